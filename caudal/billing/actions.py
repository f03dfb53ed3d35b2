"""Writes of billing outside the run: corrections (refacturación). Atomic and audited.

``do_rebill(bill, reason=..., actor=..., consumption=None)`` replaces a posted bill:

1. The old bill's ledger document is reversed (``ledger.actions.do_reverse_document``):
   every clearing that paid it is reset first, so money already applied to it becomes a
   credit again, and each of its items is cleared by a mirror item of the reversal. The
   open part and the paid part of the old bill are both credited; nothing posted is edited.
2. The account is priced again for the same period, with the tariff version valid on the
   period's first day and the account's current cadastre (category, units, stratum,
   services): a re-bill usually follows a cadastre or reading correction. The consumption
   is the one given (rule ``corrected``) or the old bill's (and its rule).
3. A new ``Bill`` (``version`` + 1, kind ``correction``, ``replaces`` the old one) and a new
   bill document (``ledger.actions.do_post_charge``), which applies the open credits of the
   account — the money freed in step 1 included — oldest due first, as every ledger posting
   does. Due date: the old one, or ``cycle.due_days`` after today when that is later.

One audit event ``billing.rebill`` (plus the ledger's own events).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import polars as pl
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, record
from caudal.cadastre.models import Account
from caudal.kernel.errors import DomainError
from caudal.kernel.periods import Period
from caudal.ledger import actions as ledger_actions
from caudal.ledger.models import Clearing, DocumentKind, OpenItem, Side
from caudal.tariffs import pricing

from . import queries, rules, runs
from .models import Bill, BillKind

__all__ = ["do_rebill"]


def _require_reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise DomainError(_("Indique el motivo de la refacturación."))
    return reason.strip()[:250]


def _open_debt(account_id: int) -> int:
    total = OpenItem.objects.filter(
        account_id=account_id, open_amount__gt=0, side=Side.DEBIT, blocked=False
    ).aggregate(t=Sum("open_amount"))["t"]
    return int(total or 0)


def price_again(
    bill: Bill, *, consumption: int | None
) -> tuple[pl.DataFrame, dict[str, Any], Any, Any]:
    """Price ``bill``'s account for its period again. Returns the priced lines, the bill
    fields (consumption, rule, category, units, stratum), the tariff version and tariff."""
    version, tariff = runs.tariff_for(bill.period)
    with connection.cursor() as cursor:
        frame = queries.load_accounts(cursor, bill.period, None, account_ids=[bill.account_id])
    if frame.height != 1:
        raise DomainError(_("No se encontró el suministro de la factura."))
    cal = queries.calendars(bill.period, [int(frame["cycle_id"][0])]).get(int(frame["cycle_id"][0]))
    months = cal.months if cal else 1
    if consumption is None:
        volume, rule = int(bill.consumption), bill.consumption_rule or rules.ACTUAL
    else:
        if consumption < 0:
            raise DomainError(_("El consumo no puede ser negativo."))
        volume, rule = int(consumption), "corrected"
    assigned = pricing.assigned_volumes_frame(
        frame.select("account_id", "category", "units"), tariff, months=months
    )
    decided = rules.determine(
        frame.join(assigned, on="account_id", how="left").with_columns(
            pl.lit("corrected").alias("reading_status"),
            pl.lit(volume, dtype=pl.Int64).alias("reading_consumption"),
            pl.lit(rule).alias("reading_rule"),
            pl.lit(None, dtype=pl.Int64).alias("average_m3"),
        ),
        hold_unresolved=True,
        policy=runs.policy(),
    )
    row = decided.row(0, named=True)
    if row["outcome"] != rules.BILL:
        raise DomainError(
            _("No se puede refacturar: %(reason)s.")
            % {"reason": rules.reason_labels().get(row["reason"], row["reason"])}
        )
    if row["consumption_rule"] == rules.CUT:
        volume, rule = 0, rules.CUT
    priced_input = decided.select(list(pricing.INPUT_SCHEMA))
    first_day = Period.parse(bill.period).start
    bad = pricing.unpriceable(priced_input, tariff, months=months, on=first_day)
    if bad.height:
        raise DomainError(
            _("La tarifa no puede facturar el suministro: %(reason)s.")
            % {"reason": bad["reason"][0]}
        )
    lines = pricing.price_accounts(priced_input, tariff, months=months, on=first_day)
    fields = {
        "consumption": volume,
        "consumption_rule": rule,
        "category": row["category"],
        "units": row["units"],
        "stratum": row["stratum"],
        "months": months,
    }
    return lines, fields, version, tariff


def do_rebill(
    bill: Bill | int,
    *,
    reason: str,
    actor: ActorLike,
    consumption: int | None = None,
    on: date | None = None,
) -> Bill:
    """Credit ``bill`` and post its replacement (see the module docstring)."""
    why = _require_reason(reason)
    today = on or timezone.localdate()
    bill_id = bill if isinstance(bill, int) else bill.pk
    with transaction.atomic():
        old = Bill.objects.select_related("account__cycle", "document").filter(pk=bill_id).first()
        if old is None:
            raise DomainError(_("La factura %(id)s no existe.") % {"id": bill_id})
        list(Account.objects.select_for_update().filter(pk=old.account_id).values_list("pk"))
        if Bill.objects.filter(replaces_id=old.pk).exists():
            raise DomainError(
                _("La factura %(number)s ya fue refacturada: corrija la última versión.")
                % {"number": old.number}
            )
        lines, fields, version, tariff = price_again(old, consumption=consumption)
        reversal = None
        if old.document_id is not None:
            assert old.document is not None
            posting = max(today, old.document.posting_date)
            reversal = ledger_actions.do_reverse_document(
                old.document,
                reason=_("Refacturación de %(number)s: %(why)s")
                % {"number": old.number, "why": why},
                posting_date=posting,
                actor=actor,
            )
        else:
            posting = today
        previous_debt = _open_debt(old.account_id)
        due = max(old.due_date, posting + timedelta(days=old.account.cycle.due_days))
        explained = rules.lines_json(
            lines,
            tariff_label=tariff.label,
            rules=pl.DataFrame(
                {"account_id": [old.account_id], "consumption_rule": [fields["consumption_rule"]]}
            ),
        )
        lines_text = explained["lines_json"][0] if explained.height else "[]"
        amount = int(lines["amount"].sum() or 0)
        new = Bill.objects.create(
            account_id=old.account_id,
            period=old.period,
            version=old.version + 1,
            kind=BillKind.CORRECTION,
            number=f"tmp-{old.pk}-{old.version + 1}",
            payment_reference="",
            route_id=old.route_id,
            replaces=old,
            issue_date=posting,
            due_date=due,
            cut_warning_date=old.cut_warning_date,
            category=fields["category"],
            stratum=fields["stratum"],
            units=fields["units"],
            tariff=version,
            meter_serial=old.meter_serial,
            previous_reading=old.previous_reading,
            current_reading=old.current_reading,
            consumption=fields["consumption"],
            consumption_rule=fields["consumption_rule"],
            amount=amount,
            previous_debt=previous_debt,
            credit_applied=0,
            total_due=previous_debt + amount,
            overdue_bills=old.overdue_bills,
            red=old.red,
            lines=json.loads(lines_text),
            messages=old.messages,
        )
        new.number = rules.bill_number(old.period, new.pk)
        new.payment_reference = rules.payment_reference(new.number)
        applied = 0
        if amount > 0:
            document = ledger_actions.do_post_charge(
                old.account_id,
                kind=DocumentKind.BILL,
                lines=[
                    (concept, int(value), description or "")
                    for concept, value, description in lines.select(
                        "concept", "amount", "description"
                    ).iter_rows()
                ],
                document_date=posting,
                posting_date=posting,
                due_date=due,
                reference=new.number,
                reason=why,
                source="rebill",
                actor=actor,
            )
            new.document = document
            applied = int(
                Clearing.objects.filter(document=document).aggregate(t=Sum("amount"))["t"] or 0
            )
        new.credit_applied = applied
        new.total_due = previous_debt + amount - applied
        new.save(
            update_fields=["number", "payment_reference", "document", "credit_applied", "total_due"]
        )
        record(
            actor=actor,
            action="billing.rebill",
            object_type="billing.bill",
            object_id=new.pk,
            account_id=old.account_id,
            before={
                "bill": old.pk,
                "number": old.number,
                "version": old.version,
                "consumption": old.consumption,
                "amount": old.amount,
            },
            after={
                "bill": new.pk,
                "number": new.number,
                "version": new.version,
                "consumption": new.consumption,
                "rule": new.consumption_rule,
                "amount": new.amount,
                "reversal": reversal.pk if reversal else None,
                "document": new.document_id,
                "credit_applied": applied,
            },
            reason=why,
        )
        return new
