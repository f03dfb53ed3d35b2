"""The ``caudal`` console command: Django management commands with preset settings.

Commands may be typed with hyphens (``caudal import-cadastre``); they map to the
management command with underscores (``import_cadastre``).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caudal.settings.dev")
    if len(args) > 1 and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
    args[0] = "caudal"
    from django.core.management import execute_from_command_line

    execute_from_command_line(args)


if __name__ == "__main__":
    main()
