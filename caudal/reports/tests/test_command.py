"""``caudal management-report``: JSON figures, draft files, archived files, errors."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from caudal.reports import actions

from .conftest import BALANCE_ON, ON

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("management_report", *args, stdout=out)
    return out.getvalue()


def test_json_figures_and_draft_files_without_a_report(world, tmp_path):
    pdf, xlsx = tmp_path / "m.pdf", tmp_path / "m.xlsx"
    data = json.loads(
        run(
            "--date",
            ON.isoformat(),
            "--kind",
            "monthly",
            "--json",
            "--pdf",
            str(pdf),
            "--xlsx",
            str(xlsx),
        )
    )
    assert data["report"] is None
    figures = {f["key"]: f for f in data["figures"]}
    assert figures["balance"]["value"] == BALANCE_ON
    stages = next(t for t in data["tables"] if t["key"] == "stages")
    assert stages["total"]["balance"] == BALANCE_ON
    assert stages["total"]["share"] == "100"
    assert pdf.read_bytes().startswith(b"%PDF") and xlsx.read_bytes().startswith(b"PK")


def test_a_published_report_gives_its_archived_files(
    world, tmp_path, settings, analyst, coordinator, manager, django_capture_on_commit_callbacks
):
    report = actions.do_create_report("coercive", world.snapshot, actor=analyst)
    actions.do_edit_report(report, "Conclusión.", "", actor=analyst)
    actions.do_submit(report, actor=analyst)
    actions.do_forward(report, actor=coordinator)
    actions.do_approve(report, actor=manager)
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_publish(report, actor=manager)
    out = tmp_path / "r.pdf"
    data = json.loads(run("--id", str(report.pk), "--pdf", str(out), "--json"))
    assert data["report"]["status"] == "published"
    archived = settings.CAUDAL_REPORT_DIR / report.pdf_path
    assert out.read_bytes() == archived.read_bytes()
    assert data["report"]["pdf_sha256"] == report.pdf_sha256
    text = run("--date", ON.isoformat(), "--kind", "coercive")
    assert report.title in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--kind", "monthly"), "--date"),
        (("--date", "2025-13-01", "--kind", "monthly"), "Fecha no válida"),
        (("--date", "2024-01-31", "--kind", "monthly"), "No hay un corte"),
        (("--id", "999"), "No existe el informe"),
    ],
)
def test_errors(world, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
