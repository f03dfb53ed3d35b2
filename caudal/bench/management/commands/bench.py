"""``caudal bench NAME --size N --json``: run one benchmark on a fresh database.

The command re-runs itself in a child process pointed at a throw-away database (a SQLite
file in a temporary folder, or a new PostgreSQL database on the server of ``DATABASE_URL``),
migrates it, runs the benchmark and prints one JSON object. ``--db PATH`` reuses an existing
SQLite database instead (for example the one a ``demo`` benchmark left with ``--keep``).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from caudal.bench import harness

BENCH_MODULES = [
    "caudal.bench.benchmarks",
    "caudal.bench.import_benches",
    "caudal.bench.demo_benches",
    "caudal.bench.tariff_benches",
    "caudal.bench.billing_benches",
    "caudal.bench.bill_benches",
    "caudal.bench.critique_benches",
    "caudal.bench.reading_benches",
    "caudal.bench.payment_file_benches",
    "caudal.bench.payment_api_benches",
    "caudal.bench.dashboard_benches",
    "caudal.bench.snapshot_benches",
]


def load_registry() -> dict[str, harness.Benchmark]:
    for module in BENCH_MODULES:
        importlib.import_module(module)
    return harness.REGISTRY


class Command(BaseCommand):
    help = "Run a named benchmark and print its figures (seconds, rate, percentiles, floor, ratio)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="benchmark name; omit to list them")
        parser.add_argument("--size", type=int, default=None)
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--db", help="reuse this SQLite database file (not copied)")
        parser.add_argument("--keep", action="store_true", help="keep the scratch database")
        parser.add_argument("--workdir", help="scratch directory (default: a temporary one)")

    def handle(self, *args: Any, **opts: Any) -> None:
        registry = load_registry()
        name = opts["name"]
        if not name:
            for bench in sorted(registry.values(), key=lambda b: b.name):
                self.stdout.write(
                    f"{bench.name:20} size {bench.default_size:>9,}  {bench.description}"
                )
            return
        if name not in registry:
            raise CommandError(f"unknown benchmark {name!r}; known: {', '.join(sorted(registry))}")
        bench = registry[name]
        size = opts["size"] or bench.default_size
        if os.environ.get("CAUDAL_BENCH_CHILD") == "1":
            self.run_child(bench, size, Path(opts["workdir"]))
            return
        self.run_parent(name, size, opts)

    def run_parent(self, name: str, size: int, opts: dict[str, Any]) -> None:
        workdir = Path(opts["workdir"] or tempfile.mkdtemp(prefix=f"caudal-bench-{name}-"))
        workdir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, CAUDAL_BENCH_CHILD="1", CAUDAL_VAR_DIR=str(workdir / "var"))
        pg_db = None
        url = os.environ.get("DATABASE_URL")
        if url and not opts["db"]:
            pg_db = f"caudal_bench_{uuid.uuid4().hex[:8]}"
            self._pg_admin(url, f'CREATE DATABASE "{pg_db}"')
            env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + pg_db
        else:
            env.pop("DATABASE_URL", None)
            env["CAUDAL_SQLITE_PATH"] = opts["db"] or str(workdir / "bench.sqlite3")
        cmd = [
            sys.executable,
            "-m",
            "caudal.cli",
            "bench",
            name,
            "--size",
            str(size),
            "--workdir",
            str(workdir),
        ]
        if opts["json"]:
            cmd.append("--json")
        try:
            proc = subprocess.run(cmd, env=env, check=False)
        finally:
            if pg_db and not opts["keep"]:
                self._pg_admin(url or "", f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')
            if not opts["keep"] and not opts["workdir"]:
                shutil.rmtree(workdir, ignore_errors=True)
        if proc.returncode:
            raise CommandError(f"benchmark {name} failed (exit {proc.returncode})")

    @staticmethod
    def _pg_admin(url: str, sql: str) -> None:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def run_child(self, bench: harness.Benchmark, size: int, workdir: Path) -> None:
        call_command("migrate", verbosity=0, interactive=False)
        raw = bench.fn(size, workdir)
        engine = connection.vendor
        result = harness.finish(bench.name, size, raw, engine)
        self.stdout.write(json.dumps(result, default=str))
