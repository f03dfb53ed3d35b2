"""The report workflow with users of the cartera roles: draft → review → approval →
publication, refusals by role and by state, returns, and the archived, e-mailed PDF."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

import pypdf
import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied

from caudal.audit.models import AuditEvent
from caudal.reports import actions
from caudal.reports.actions import ReportError
from caudal.reports.models import ReportStatus, ReportStep

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def draft(world, analyst):
    return actions.do_create_report("monthly", world.snapshot, actor=analyst)


def to_approved(report, analyst, coordinator, manager):
    actions.do_edit_report(report, "La cartera bajó.", "Reforzar el cobro.", actor=analyst)
    actions.do_submit(report, actor=analyst)
    actions.do_forward(report, actor=coordinator, comment="Conforme.")
    actions.do_approve(report, actor=manager)
    return report


def test_full_workflow_to_publication(
    world, analyst, coordinator, manager, settings, django_capture_on_commit_callbacks
):
    settings.CAUDAL_REPORT_RECIPIENTS = ["control.interno@eps.example"]
    report = actions.do_create_report("monthly", world.snapshot, actor=analyst)
    assert report.status == ReportStatus.DRAFT and report.revision == 1
    assert report.title == "Informe mensual de seguimiento a la cartera – Junio 2025"
    actions.do_edit_report(
        report, "La cartera vencida bajó 5,8 %.", "Reforzar el cobro persuasivo.", actor=analyst
    )
    assert report.revision == 2
    actions.do_submit(report, actor=analyst)
    assert report.status == ReportStatus.IN_REVIEW
    actions.do_forward(report, actor=coordinator, comment="Revisado.")
    assert report.status == ReportStatus.REVIEWED
    actions.do_approve(report, actor=manager, comment="Aprobado.")
    assert report.status == ReportStatus.APPROVED
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_publish(report, actor=analyst)
    report.refresh_from_db()
    assert report.status == ReportStatus.PUBLISHED
    assert report.published_by == analyst and report.published_at is not None

    path = Path(settings.CAUDAL_REPORT_DIR) / report.pdf_path
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == report.pdf_sha256
    assert not os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert path.parent.name == str(report.published_at.year)
    assert (Path(settings.CAUDAL_REPORT_DIR) / report.xlsx_path).exists()

    text = pdf_text(data)
    assert "BORRADOR" not in text
    assert "S/ 2,950.00" in text  # the cartera's balance
    assert "La cartera vencida bajó 5,8 %." in text
    for name in ("Analista", "Coordinador", "Gerente"):  # the signatures
        assert name in text

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["control.interno@eps.example"]
    (attachment,) = message.attachments
    assert attachment[0].endswith(".pdf") and attachment[2] == "application/pdf"
    assert hashlib.sha256(attachment[1]).hexdigest() == report.pdf_sha256

    steps = [(s.from_status, s.to_status) for s in ReportStep.objects.filter(report=report)]
    assert steps == [
        ("draft", "draft"),
        ("draft", "in_review"),
        ("in_review", "reviewed"),
        ("reviewed", "approved"),
        ("approved", "published"),
    ]
    events = list(
        AuditEvent.objects.filter(object_type="reports.managementreport", object_id=str(report.pk))
        .order_by("id")
        .values_list("action", "actor_label")
    )
    assert events == [
        ("reports.create", "analista"),
        ("reports.edit", "analista"),
        ("reports.submit", "analista"),
        ("reports.forward", "coordinador"),
        ("reports.approve", "gerente"),
        ("reports.publish", "analista"),
        ("reports.emailed", "system"),
    ]


def test_report_recipients_take_precedence_and_none_sends_nothing(
    world, analyst, coordinator, manager, settings, django_capture_on_commit_callbacks
):
    settings.CAUDAL_REPORT_RECIPIENTS = []
    report = actions.do_create_report(
        "coercive", world.snapshot, actor=analyst, recipients="dir@eps.example; oci@eps.example"
    )
    to_approved(report, analyst, coordinator, manager)
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_publish(report, actor=manager)
    assert mail.outbox[0].to == ["dir@eps.example", "oci@eps.example"]
    other = actions.do_create_report("prelegal", world.snapshot, actor=analyst)
    to_approved(other, analyst, coordinator, manager)
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_publish(other, actor=manager)
    assert len(mail.outbox) == 1
    with pytest.raises(ReportError, match="no es una dirección"):
        actions.do_create_report("agencies", world.snapshot, actor=analyst, recipients="x@")


def test_refusals_by_role(world, draft, analyst, coordinator, manager, officer, cashier):
    with pytest.raises(PermissionDenied):
        actions.do_create_report("prelegal", world.snapshot, actor=officer)
    with pytest.raises(PermissionDenied):
        actions.do_edit_report(draft, "x", "y", actor=cashier)
    actions.do_edit_report(draft, "Conclusión.", "", actor=analyst)
    actions.do_submit(draft, actor=analyst)
    with pytest.raises(PermissionDenied):
        actions.do_forward(draft, actor=analyst)
    with pytest.raises(PermissionDenied):
        actions.do_forward(draft, actor=manager)  # the director approves, does not review
    with pytest.raises(PermissionDenied, match="coordinación"):
        actions.do_return(draft, "No.", actor=manager)
    actions.do_forward(draft, actor=coordinator)
    with pytest.raises(PermissionDenied):
        actions.do_approve(draft, actor=coordinator)
    with pytest.raises(PermissionDenied, match="dirección"):
        actions.do_return(draft, "No.", actor=coordinator)
    actions.do_approve(draft, actor=manager)
    with pytest.raises(PermissionDenied):
        actions.do_publish(draft, actor=coordinator.__class__.objects.get(username="gestor"))
    draft.refresh_from_db()
    assert draft.status == ReportStatus.APPROVED


def test_refusals_by_state(draft, analyst, coordinator, manager):
    with pytest.raises(ReportError, match="conclusiones"):
        actions.do_submit(draft, actor=analyst)
    with pytest.raises(ReportError, match="Borrador"):
        actions.do_forward(draft, actor=coordinator)
    with pytest.raises(ReportError):
        actions.do_approve(draft, actor=manager)
    with pytest.raises(ReportError):
        actions.do_publish(draft, actor=manager)
    with pytest.raises(ReportError, match="observaciones"):
        actions.do_return(draft, "  ", actor=coordinator)
    actions.do_edit_report(draft, "Conclusión.", "", actor=analyst)
    actions.do_submit(draft, actor=analyst)
    with pytest.raises(ReportError, match="editar"):
        actions.do_edit_report(draft, "Otra.", "", actor=analyst)
    with pytest.raises(ReportError):
        actions.do_approve(draft, actor=manager)  # not reviewed yet
    with pytest.raises(ReportError, match="Ya existe"):
        actions.do_create_report("monthly", draft.snapshot, actor=analyst)


def test_return_edit_resubmit_and_signatures_of_the_new_cycle(draft, analyst, coordinator, manager):
    from caudal.reports.render import signatures

    actions.do_edit_report(draft, "Primera versión.", "", actor=analyst)
    actions.do_submit(draft, actor=analyst)
    actions.do_forward(draft, actor=coordinator)
    actions.do_return(draft, "Falta el análisis por zona.", actor=manager)
    assert draft.status == ReportStatus.RETURNED
    returned = ReportStep.objects.filter(report=draft).last()
    assert returned is not None
    assert returned.comment == "Falta el análisis por zona." and returned.actor == manager
    assert signatures(draft)[1].name == ""  # the old review no longer counts
    revision = draft.revision
    actions.do_edit_report(draft, "Segunda versión, con zonas.", "", actor=analyst)
    assert draft.revision == revision + 1
    actions.do_edit_report(draft, "Segunda versión, con zonas.", "", actor=analyst)
    assert draft.revision == revision + 1  # nothing changed, no new revision
    actions.do_submit(draft, actor=analyst)
    actions.do_return(draft, "Revise las cifras de mora.", actor=coordinator)
    actions.do_submit(draft, actor=analyst)
    actions.do_forward(draft, actor=coordinator)
    actions.do_approve(draft, actor=manager)
    sig = signatures(draft)
    assert [s.name for s in sig] == ["Analista", "Coordinador", "Gerente"]
    assert AuditEvent.objects.filter(action="reports.return").count() == 2


def test_a_published_report_never_changes(
    draft, analyst, coordinator, manager, django_capture_on_commit_callbacks, settings
):
    to_approved(draft, analyst, coordinator, manager)
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_publish(draft, actor=manager)
    stored = (Path(settings.CAUDAL_REPORT_DIR) / draft.pdf_path).read_bytes()
    for attempt in (
        lambda: actions.do_edit_report(draft, "Cambio.", "", actor=analyst),
        lambda: actions.do_submit(draft, actor=analyst),
        lambda: actions.do_return(draft, "Cambio.", actor=manager),
        lambda: actions.do_approve(draft, actor=manager),
        lambda: actions.do_publish(draft, actor=manager),
    ):
        with pytest.raises(ReportError, match="publicado"):
            attempt()
    draft.refresh_from_db()
    assert draft.status == ReportStatus.PUBLISHED and draft.conclusions == "La cartera bajó."
    assert (Path(settings.CAUDAL_REPORT_DIR) / draft.pdf_path).read_bytes() == stored


def test_draft_pdf_has_the_watermark_and_the_xlsx_the_tables(draft, analyst):
    import openpyxl

    from caudal.reports.render import report_pdf, report_xlsx

    actions.do_edit_report(draft, "Borrador de conclusiones.", "Recomendación.", actor=analyst)
    text = pdf_text(report_pdf(draft))
    assert "BORRADOR" in text
    assert "CARTERA POR ETAPA DE COBRO" in text and "Borrador de conclusiones." in text
    book = openpyxl.load_workbook(io.BytesIO(report_xlsx(draft)))
    assert book.sheetnames[0] == "Resumen"
    stages = book["Cartera por etapa de cobro"]
    header = [c.value for c in stages[5]]
    assert header[:3] == ["Etapa", "Responsable", "Cuentas"]
    balance_col = header.index("Saldo (S/)")
    values = [row[balance_col].value for row in stages.iter_rows(min_row=6, max_row=10)]
    assert sum(values) == pytest.approx(2950.00)
    total_row = next(stages.iter_rows(min_row=11, max_row=11))
    assert total_row[0].value == "Total"
    assert str(total_row[balance_col].value).startswith("=SUM(")
