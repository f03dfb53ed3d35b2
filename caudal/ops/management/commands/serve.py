"""``caudal serve``: the web app under gunicorn, the production WSGI server.

Collects static files first (WhiteNoise serves them; nothing comes from a CDN), then replaces
this process with gunicorn so signals reach the server directly.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve Caudal with gunicorn (static files collected, production-style)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=os.environ.get("CAUDAL_BIND", "127.0.0.1:8000"))
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("CAUDAL_WORKERS", "2"))
        )
        parser.add_argument(
            "--threads", type=int, default=int(os.environ.get("CAUDAL_THREADS", "4"))
        )
        parser.add_argument("--no-collectstatic", action="store_true")
        parser.add_argument("--no-migrate", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not opts["no_migrate"]:
            call_command("migrate", verbosity=0, interactive=False)
        if not opts["no_collectstatic"]:
            call_command("collectstatic", verbosity=0, interactive=False)
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "caudal.wsgi:application",
            "--bind",
            opts["bind"],
            "--workers",
            str(opts["workers"]),
            "--threads",
            str(opts["threads"]),
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "20",
        ]
        self.stdout.write(f"Caudal en http://{opts['bind']}/  (Ctrl+C para detener)")
        sys.stdout.flush()
        os.execv(sys.executable, argv)  # noqa: S606 - fixed argv, no shell
