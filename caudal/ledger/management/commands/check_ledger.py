"""``caudal check-ledger [--account NUMBER] [--json]``: verify the ledger's invariants.

Runs :func:`caudal.ledger.invariants.check_all` (or ``check_account``): every document
balances, 0 ≤ open ≤ amount, open amounts equal amount minus clearings, clearings pair a
debit and a credit of one account, account totals agree, the immutability triggers exist.
Exit status 0 when everything holds, 1 when something does not (each violation printed).
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from caudal.cadastre.models import Account
from caudal.ledger import invariants


class Command(BaseCommand):
    help = "Verifica los invariantes de la cuenta corriente (todo el libro o un suministro)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="número de suministro (por defecto, todos)")
        parser.add_argument("--json", action="store_true", help="resultado en JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.perf_counter()
        if opts["account"]:
            account_id = (
                Account.objects.filter(number=opts["account"]).values_list("pk", flat=True).first()
            )
            if account_id is None:
                raise CommandError(f"No existe el suministro {opts['account']}")
            violations = invariants.check_account(account_id)
        else:
            violations = invariants.check_all()
        seconds = round(time.perf_counter() - started, 3)
        if opts["json"]:
            self.stdout.write(
                json.dumps({"ok": not violations, "violations": violations, "seconds": seconds})
            )
        elif violations:
            for line in violations:
                self.stderr.write(line)
        else:
            self.stdout.write(f"Cuenta corriente conforme ({seconds} s)")
        if violations:
            raise SystemExit(1)
