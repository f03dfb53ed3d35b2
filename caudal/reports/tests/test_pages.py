"""The /informes/ pages: who sees what (200 / 403 / 404), the forms and the workflow
buttons, and the files (draft PDF, XLSX annex, archived PDF)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from django.urls import reverse

from caudal.reports import actions
from caudal.reports.models import ManagementReport, ReportStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(world, analyst):
    return actions.do_create_report("prelegal", world.snapshot, actor=analyst)


def client_for(client, user):
    client.force_login(user)
    return client


def publish(report, analyst, coordinator, manager, capture):
    actions.do_edit_report(report, "Conclusión publicada.", "", actor=analyst)
    actions.do_submit(report, actor=analyst)
    actions.do_forward(report, actor=coordinator)
    actions.do_approve(report, actor=manager)
    with capture(execute=True):
        actions.do_publish(report, actor=manager)
    report.refresh_from_db()
    return report


def test_list_and_detail_by_role(client, report, analyst, officer, cashier):
    url = reverse("reports-list")
    assert client_for(client, cashier).get(url).status_code == 403
    # The collections officer sees published reports only.
    response = client_for(client, officer).get(url)
    assert response.status_code == 200
    assert report.title not in response.content.decode()
    assert client.get(reverse("report-detail", args=[report.pk])).status_code == 404
    assert client.get(reverse("report-new")).status_code == 403
    response = client_for(client, analyst).get(url)
    assert response.status_code == 200 and report.title in response.content.decode()
    response = client.get(reverse("report-detail", args=[report.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="edit-form"' in body and 'value="submit"' in body
    assert "Cobro prejurídico" in body and "Mayores deudores" in body  # the figures preview
    assert "<svg" in body  # charts


def test_new_report_form(client, world, analyst):
    c = client_for(client, analyst)
    assert c.get(reverse("report-new")).status_code == 200
    response = c.post(
        reverse("report-new"), {"kind": "coercive", "snapshot": world.snapshot.pk, "title": ""}
    )
    report = ManagementReport.objects.get(kind="coercive")
    assert response.status_code == 302
    assert response["Location"] == reverse("report-detail", args=[report.pk])
    again = c.post(reverse("report-new"), {"kind": "coercive", "snapshot": world.snapshot.pk})
    assert again.status_code == 400 and "Ya existe" in again.content.decode()
    missing = c.post(reverse("report-new"), {"kind": "coercive", "snapshot": "x"})
    assert missing.status_code == 400


def test_workflow_through_the_pages(
    client, report, analyst, coordinator, manager, django_capture_on_commit_callbacks
):
    step = reverse("report-step", args=[report.pk])
    detail = reverse("report-detail", args=[report.pk])
    c = client_for(client, analyst)
    c.post(
        reverse("report-edit", args=[report.pk]),
        {"conclusions": "Mejoró el prejurídico.", "recommendations": "Seguir.", "title": "T"},
    )
    report.refresh_from_db()
    assert (report.conclusions, report.title, report.revision) == ("Mejoró el prejurídico.", "T", 2)
    c.post(step, {"step": "submit"})
    report.refresh_from_db()
    assert report.status == ReportStatus.IN_REVIEW
    # The analyst's attempt to forward is refused by the action (message, no change).
    c.post(step, {"step": "forward"})
    report.refresh_from_db()
    assert report.status == ReportStatus.IN_REVIEW

    c = client_for(client, coordinator)
    body = c.get(detail).content.decode()
    assert 'value="forward"' in body and 'value="return"' in body and 'value="approve"' not in body
    c.post(step, {"step": "return", "comment": ""})  # refused: no observations
    report.refresh_from_db()
    assert report.status == ReportStatus.IN_REVIEW
    c.post(step, {"step": "return", "comment": "Agregue la tendencia."})
    report.refresh_from_db()
    assert report.status == ReportStatus.RETURNED

    c = client_for(client, analyst)
    c.post(step, {"step": "submit"})
    c = client_for(client, coordinator)
    c.post(step, {"step": "forward"})
    c = client_for(client, manager)
    body = c.get(detail).content.decode()
    assert 'value="approve"' in body and 'value="forward"' not in body
    c.post(step, {"step": "approve"})
    with django_capture_on_commit_callbacks(execute=True):
        c.post(step, {"step": "publish"})
    report.refresh_from_db()
    assert report.status == ReportStatus.PUBLISHED
    body = c.get(detail).content.decode()
    assert 'id="edit-form"' not in body and 'name="step"' not in body
    assert report.pdf_sha256 in body


def test_files(
    client,
    settings,
    report,
    analyst,
    coordinator,
    manager,
    officer,
    django_capture_on_commit_callbacks,
):
    c = client_for(client, analyst)
    pdf = c.get(reverse("report-pdf", args=[report.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    xlsx = c.get(reverse("report-xlsx", args=[report.pk]))
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    assert c.get(reverse("report-archive", args=[report.pk])).status_code == 404

    publish(report, analyst, coordinator, manager, django_capture_on_commit_callbacks)
    c = client_for(client, officer)
    archived = c.get(reverse("report-archive", args=[report.pk]))
    assert archived.status_code == 200
    assert hashlib.sha256(archived.content).hexdigest() == report.pdf_sha256
    assert archived["X-Content-SHA256"] == report.pdf_sha256
    assert c.get(reverse("report-pdf", args=[report.pk])).status_code == 302
    annex = c.get(reverse("report-xlsx", args=[report.pk]))
    stored = (Path(settings.CAUDAL_REPORT_DIR) / report.xlsx_path).read_bytes()
    assert annex.status_code == 200 and b"".join(annex.streaming_content) == stored
    assert report.title in c.get(reverse("reports-list")).content.decode()

    # A tampered archive is not served as the approved report.
    path = Path(settings.CAUDAL_REPORT_DIR) / report.pdf_path
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes() + b"%tampered")
    assert c.get(reverse("report-archive", args=[report.pk])).status_code == 409


def test_list_filters_and_pending(client, world, report, analyst, coordinator):
    other = actions.do_create_report("coercive", world.snapshot, actor=analyst)
    actions.do_edit_report(other, "Lista.", "", actor=analyst)
    actions.do_submit(other, actor=analyst)
    c = client_for(client, coordinator)
    body = c.get(reverse("reports-list") + "?pendientes=1").content.decode()
    assert other.title in body and report.title not in body
    body = c.get(reverse("reports-list") + "?tipo=prelegal").content.decode()
    assert report.title in body and other.title not in body
    body = c.get(reverse("reports-list") + "?estado=in_review").content.decode()
    assert other.title in body and report.title not in body
