"""The demo's cartera control (issue 5): what an analyst finds on the first morning.

After the history is billed and paid:

- **complaints** block a few overdue items (partidas bloqueadas), each with a case
  reference and the office that handles it; some were resolved and unblocked since;
- **payment agreements** (convenios): some accounts in arrears refinanced their debt — a
  credit adjustment clears the old items and an agreement document carries the new debt —
  on days spread over the last two months, so the financing follow-up has daily figures;
- **snapshots** of every month end of the history and of yesterday, taken with the real
  snapshot (as of each date, so their order does not matter);
- **indicators** computed on every snapshot and targets set for the months;
- **management reports**: last month's monthly report published through the whole
  workflow (analyst → coordinator → director), this month's draft submitted for review.

Everything goes through the actions a user's click would call.
"""

from __future__ import annotations

import zlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.test import override_settings

#: Offices that handle complaints (responsible of a blocked item).
COMPLAINT_DESKS = (
    "Atención al cliente – Oficina central",
    "Atención al cliente – Zona norte",
    "Reclamos técnicos – Medición",
)


def _pick(key: str, share: int) -> bool:
    """A stable pseudo-random choice: ``share`` per thousand of the keys."""
    return zlib.crc32(key.encode()) % 1000 < share


def _overdue_items(as_of: date, limit: int) -> list[tuple[int, int, date]]:
    """(item id, account id, due date) of open unblocked debits due 40+ days before as_of,
    one per account (its oldest), in account order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MIN(id), account_id, MIN(due_date) FROM ledger_openitem "
            "WHERE side = 'D' AND open_amount > 0 AND NOT blocked AND due_date < %s "
            "GROUP BY account_id ORDER BY account_id LIMIT %s",
            [as_of - timedelta(days=40), limit],
        )
        return [
            (int(i), int(a), d if isinstance(d, date) else date.fromisoformat(d))
            for i, a, d in cursor.fetchall()
        ]


def block_disputed_items(*, as_of: date, actor: str, share: int = 8) -> dict[str, int]:
    """Block the oldest overdue item of about ``share`` per thousand accounts in arrears
    (complaints), on days of the last 60; a quarter of them were resolved (unblocked)."""
    from caudal.ledger.actions import do_block_item, do_unblock_item

    blocked = unblocked = 0
    for item_id, account_id, _due in _overdue_items(as_of, 1_000_000):
        key = f"block-{account_id}"
        if not _pick(key, share):
            continue
        seq = zlib.crc32(key.encode())
        on = as_of - timedelta(days=1 + seq % 60)
        do_block_item(
            item_id,
            reason="Reclamo del usuario por el importe facturado",
            case_ref=f"PQR-{on.year}-{10000 + blocked}",
            responsible=COMPLAINT_DESKS[seq % len(COMPLAINT_DESKS)],
            on=on,
            actor=actor,
        )
        blocked += 1
        if seq % 4 == 0 and on < as_of - timedelta(days=5):
            do_unblock_item(
                item_id,
                reason="Reclamo resuelto: se confirma el importe",
                on=on + timedelta(days=1 + seq % 5),
                actor=actor,
            )
            unblocked += 1
    return {"blocked_items": blocked, "unblocked_items": unblocked}


def post_agreements(*, as_of: date, actor: str, share: int = 15) -> dict[str, int]:
    """Refinance the overdue debt of about ``share`` per thousand accounts in arrears: a
    credit adjustment clears their open debits and an agreement document (convenio)
    carries the debt, due a month later, on days of the last 60."""
    from caudal.ledger.actions import do_adjust, do_post_charge
    from caudal.ledger.models import Concept, DocumentKind, OpenItem, Side

    made = 0
    for _item_id, account_id, _due in _overdue_items(as_of, 1_000_000):
        key = f"agreement-{account_id}"
        if not _pick(key, share):
            continue
        on = as_of - timedelta(days=1 + zlib.crc32(key.encode()) % 60)
        debt = sum(
            OpenItem.objects.filter(
                account_id=account_id,
                side=Side.DEBIT,
                open_amount__gt=0,
                blocked=False,
                issue_date__lte=on,
            ).values_list("open_amount", flat=True)
        )
        if debt <= 0:
            continue
        do_adjust(
            account_id,
            amount=-debt,
            concept=Concept.CREDIT,
            reason="Refinanciación de la deuda por convenio de pago",
            posting_date=on,
            actor=actor,
        )
        do_post_charge(
            account_id,
            kind=DocumentKind.AGREEMENT,
            lines=[(Concept.INSTALLMENT, debt, "Convenio de pago: deuda refinanciada")],
            document_date=on,
            due_date=on + timedelta(days=30),
            reference=f"CONV-{account_id}",
            reason="Convenio de pago",
            actor=actor,
        )
        made += 1
    return {"agreements": made}


def month_ends_between(first: date, last: date) -> list[date]:
    """Month ends d with first <= d <= last, oldest first."""
    out: list[date] = []
    y, m = first.year, first.month
    while True:
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        end = nxt - timedelta(days=1)
        if end > last:
            return out
        if end >= first:
            out.append(end)
        y, m = nxt.year, nxt.month


def cartera_history(*, as_of: date, first: date, actor: str) -> dict[str, Any]:
    """Blocks, agreements, then snapshots, indicators, targets and reports (see the module
    docstring). ``first`` is the first day with ledger activity worth a snapshot."""
    counts: dict[str, Any] = {}
    counts.update(block_disputed_items(as_of=as_of, actor=actor))
    counts.update(post_agreements(as_of=as_of, actor=actor))
    counts.update(snapshots_kpis_reports(as_of=as_of, first=first, actor=actor))
    return counts


#: Demo targets (acuerdos de gestión) per indicator: (target, amber tolerance).
TARGETS: dict[str, tuple[str, str]] = {
    "morosidad_meses": ("2.5", "0.5"),
    "eficiencia_recaudo": ("95", "5"),
    "eficiencia_corriente": ("80", "5"),
    "eficiencia_morosa": ("10", "3"),
    "cartera_morosa_pct": ("45", "5"),
    "ddr_pct": ("15", "3"),
    "conexiones_activas_pct": ("90", "3"),
    "micromedicion_pct": ("80", "5"),
}


def snapshots_kpis_reports(*, as_of: date, first: date, actor: str) -> dict[str, Any]:
    """Snapshots of every month end from ``first`` and of yesterday, their indicators, the
    targets of their months, last month's report published and this month's in review."""
    from django.contrib.auth import get_user_model

    from caudal.portfolio.defaults import ensure_defaults
    from caudal.portfolio.kpis import compute_kpis, do_set_target
    from caudal.portfolio.models import KpiFormula
    from caudal.portfolio.snapshot import take_snapshot
    from caudal.reports import actions as reports
    from caudal.reports.models import ReportKind

    ensure_defaults()
    dates = month_ends_between(first, as_of - timedelta(days=1))
    yesterday = as_of - timedelta(days=1)
    if yesterday not in dates:
        dates.append(yesterday)
    codes = set(KpiFormula.objects.values_list("code", flat=True))
    snapshots = []
    for on in dates:
        snapshot = take_snapshot(on, actor=actor)
        period = on.strftime("%Y-%m")
        for code, (target, tolerance) in TARGETS.items():
            if code in codes:
                do_set_target(code, period, Decimal(target), Decimal(tolerance), actor=actor)
        compute_kpis(on, actor=actor)
        snapshots.append(snapshot)
    users = get_user_model().objects
    analyst = users.get(username="analista.cartera")
    coordinator = users.get(username="coordinador.cartera")
    director = users.get(username="gerente")
    month_ends = [s for s in snapshots if s.kind == "monthly"]
    reports_made = 0
    if month_ends:
        last = month_ends[-1]
        report = reports.do_create_report(
            ReportKind.MONTHLY, last, actor=analyst, recipients="direccion.cartera@example.org"
        )
        report = reports.do_edit_report(
            report,
            conclusions=(
                "La cartera vencida se concentra en las cuentas domésticas con más de 90 días "
                "de mora; las partidas bloqueadas por reclamos siguen pendientes de respuesta."
            ),
            recommendations=(
                "Reforzar la gestión persuasiva en las zonas con mayor mora y coordinar con "
                "atención al cliente la respuesta a los reclamos que bloquean partidas."
            ),
            actor=analyst,
        )
        report = reports.do_submit(report, actor=analyst)
        report = reports.do_forward(report, actor=coordinator, comment="Revisado.")
        report = reports.do_approve(report, actor=director, comment="Aprobado.")
        # The demo's mail goes to files under var/demo/correo/ (not to the console).
        mail_dir = Path(settings.VAR_DIR) / "demo" / "correo"
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(mail_dir),
        ):
            reports.do_publish(report, actor=director)
        reports_made += 1
        prelegal = reports.do_create_report(ReportKind.PRELEGAL, last, actor=analyst)
        prelegal = reports.do_edit_report(
            prelegal,
            conclusions="Borrador del informe de gestión prejurídico y persuasivo del mes.",
            recommendations="",
            actor=analyst,
        )
        reports.do_submit(prelegal, actor=analyst)
        reports_made += 1
    return {"snapshots": len(snapshots), "reports": reports_made}
