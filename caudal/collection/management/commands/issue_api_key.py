"""``caudal issue-api-key CENTRE [--label TEXT]``: a new API key for a collection centre.

The raw key (``cau_<prefix>_<secret>``) is printed once and never stored: only its SHA-256
is kept. ``caudal issue-api-key --revoke PREFIX`` revokes a key by its prefix.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from caudal.collection.actions import do_issue_key, do_revoke_key
from caudal.collection.models import ApiKey, Centre

ACTOR = "cli:issue-api-key"


class Command(BaseCommand):
    help = "Issue an API key for a collection centre (printed once), or revoke one by prefix."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("centre", nargs="?", help="centre code (e.g. CAR01)")
        parser.add_argument("--label", default="", help="what the key is for (max 80 chars)")
        parser.add_argument("--revoke", metavar="PREFIX", help="revoke the key with this prefix")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["revoke"]:
            self._revoke(opts["revoke"], json_out=opts["json"])
            return
        code = opts["centre"]
        if not code:
            raise CommandError("give the centre code (or --revoke PREFIX)")
        centre = Centre.objects.filter(code=code).first()
        if centre is None:
            known = ", ".join(Centre.objects.order_by("code").values_list("code", flat=True)[:20])
            raise CommandError(f"unknown centre {code!r}; known: {known or 'none'}")
        if not centre.active:
            raise CommandError(f"centre {code} is inactive")
        key, raw = do_issue_key(centre, label=opts["label"], actor=ACTOR)
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {"centre": centre.code, "prefix": key.prefix, "label": key.label, "key": raw}
                )
            )
            return
        self.stdout.write(raw)
        self.stderr.write(
            f"Clave para {centre.code} (prefijo {key.prefix}). Guárdela ahora: no se vuelve "
            "a mostrar."
        )

    def _revoke(self, prefix: str, *, json_out: bool) -> None:
        key = ApiKey.objects.select_related("centre").filter(prefix=prefix).first()
        if key is None:
            raise CommandError(f"no key with prefix {prefix!r}")
        was_revoked = key.revoked_at is not None
        key = do_revoke_key(key, actor=ACTOR, reason="caudal issue-api-key --revoke")
        if json_out:
            self.stdout.write(
                json.dumps(
                    {
                        "prefix": key.prefix,
                        "centre": key.centre.code,
                        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
                        "already_revoked": was_revoked,
                    }
                )
            )
            return
        state = "ya estaba revocada" if was_revoked else "revocada"
        self.stdout.write(f"Clave {key.prefix} de {key.centre.code}: {state}.")
