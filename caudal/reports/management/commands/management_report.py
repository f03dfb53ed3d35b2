"""``caudal management-report (--id N | --date YYYY-MM-DD --kind KIND) [--pdf FILE]
[--xlsx FILE] [--json]``.

The figures of a management report (informe de gestión) from a cartera snapshot, as the
report page shows them: ``--json`` prints the headline figures and every table (amounts in
minor units, percentages and indicators as decimal strings); ``--pdf`` / ``--xlsx`` write
the PDF and the XLSX annex. With ``--id`` (or when a report of that kind and date exists)
the report's own title, conclusions, recommendations and signatures are used; a published
report's files are its archived ones, byte for byte. Without a report the PDF is a draft
("BORRADOR") of the figures only. Nothing is written to the database: drafting, review,
approval and publication happen on ``/informes/``.

Kinds: monthly, prelegal, coercive, agencies. Exit status 0; 1 with a message for a bad
date or kind, no finished snapshot of the date, an unknown report or a snapshot whose
files are missing.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from caudal.kernel.errors import DomainError
from caudal.portfolio.models import Snapshot, SnapshotStatus
from caudal.reports import actions
from caudal.reports.content import Content, build_content
from caudal.reports.models import ManagementReport, ReportKind, ReportStatus
from caudal.reports.render import report_pdf, report_xlsx


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def content_dict(content: Content) -> dict[str, Any]:
    return {
        "kind": content.kind,
        "title": content.title,
        "date": content.date.isoformat(),
        "previous_date": content.previous_date.isoformat() if content.previous_date else None,
        "currency": content.currency,
        "scope": content.scope,
        "stages": content.stages,
        "notices": content.notices,
        "figures": [
            {"key": f.key, "label": f.label, "value": f.value, "previous": f.previous}
            for f in content.figures
        ],
        "tables": [
            {
                "key": t.key,
                "title": t.title,
                "columns": [c.key for c in t.columns],
                "rows": [{c.key: _jsonable(r.get(c.key)) for c in t.columns} for r in t.rows],
                "total": (
                    {k: _jsonable(v) for k, v in t.total.items()} if t.total is not None else None
                ),
            }
            for t in content.tables
        ],
    }


class Command(BaseCommand):
    help = "Cifras de un informe de gestión (JSON) y su PDF / anexo XLSX, desde un corte."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--id", type=int, help="id de un informe existente")
        parser.add_argument("--date", help="fecha del corte AAAA-MM-DD")
        parser.add_argument("--kind", choices=ReportKind.values, help="tipo de informe")
        parser.add_argument("--pdf", help="escribir el PDF en este archivo")
        parser.add_argument("--xlsx", help="escribir el anexo XLSX en este archivo")
        parser.add_argument("--json", action="store_true", help="cifras y tablas en JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        report = self._report(opts)
        try:
            content = build_content(report.kind, report.snapshot)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        written: dict[str, str] = {}
        published = report.pk is not None and report.status == ReportStatus.PUBLISHED
        for fmt in ("pdf", "xlsx"):
            if not opts[fmt]:
                continue
            out = Path(opts[fmt])
            if published:
                stored = actions.archived_path(report, fmt)
                if stored is None or not stored.exists():
                    raise CommandError(_("El archivo publicado no está en el archivo."))
                data = stored.read_bytes()
            elif fmt == "pdf":
                data = report_pdf(report, content)
            else:
                data = report_xlsx(report, content)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            written[fmt] = str(out)
        if opts["json"]:
            payload = {
                "report": (
                    {
                        "id": report.pk,
                        "title": report.title,
                        "status": report.status,
                        "revision": report.revision,
                        "pdf_sha256": report.pdf_sha256 or None,
                    }
                    if report.pk is not None
                    else None
                ),
                "files": written,
                **content_dict(content),
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False))
            return
        self.stdout.write(f"{report.title} · {content.date:%d/%m/%Y} · {content.scope}")
        for f in content.figures:
            self.stdout.write(f"  {f.label}: {f.value}")
        for fmt, path in written.items():
            self.stdout.write(_("Escrito %(path)s") % {"path": path} + f" ({fmt})")

    def _report(self, opts: dict[str, Any]) -> ManagementReport:
        if opts["id"] is not None:
            report = (
                ManagementReport.objects.select_related("snapshot").filter(pk=opts["id"]).first()
            )
            if report is None:
                raise CommandError(_("No existe el informe %(id)s.") % {"id": opts["id"]})
            return report
        if not opts["date"] or not opts["kind"]:
            raise CommandError(_("Indique --id, o --date y --kind."))
        try:
            on = date.fromisoformat(opts["date"])
        except ValueError as exc:
            raise CommandError(
                _("Fecha no válida: %(d)s (use AAAA-MM-DD).") % {"d": opts["date"]}
            ) from exc
        snapshot = Snapshot.objects.filter(date=on, status=SnapshotStatus.DONE).first()
        if snapshot is None:
            raise CommandError(
                _("No hay un corte de cartera terminado del %(d)s: tome el corte primero.")
                % {"d": on.isoformat()}
            )
        existing = ManagementReport.objects.filter(kind=opts["kind"], snapshot=snapshot).first()
        if existing is not None:
            return existing
        return ManagementReport(
            kind=opts["kind"],
            snapshot=snapshot,
            title=actions.default_title(opts["kind"], snapshot),
        )
