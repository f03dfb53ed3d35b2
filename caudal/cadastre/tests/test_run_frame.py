"""The frame every file import runs in: a Run row per file, closed whatever happens."""

import time

import pytest

from caudal.audit.models import Run, RunStatus
from caudal.cadastre.imports import read_csv, run_file_import


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    return read_csv(path, known=["a", "b"], required=["a"])


@pytest.mark.django_db
def test_a_crash_is_recorded_on_the_run_and_propagates(source):
    def body(run, result):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        run_file_import(
            "import_test",
            source,
            actor="tester",
            dry_run=False,
            parameters={"partial": False},
            started=time.perf_counter(),
            body=body,
        )
    run = Run.objects.get(kind="import_test")
    assert run.status == RunStatus.FAILED
    assert run.finished_at is not None
    assert run.errors == [
        {"line": 0, "column": "", "reason": "RuntimeError: disk full", "value": ""}
    ]
    assert run.parameters["file"] == "tiny.csv"
    assert run.parameters["actor"] == "tester"
    assert len(run.parameters["sha256"]) == 64


@pytest.mark.django_db
def test_the_body_value_comes_back_and_an_uncommitted_run_is_closed(source):
    result, value = run_file_import(
        "import_test",
        source,
        actor="tester",
        dry_run=True,
        parameters={},
        started=time.perf_counter(),
        body=lambda run, result: [run.pk],
    )
    run = Run.objects.get(kind="import_test")
    assert value == [run.pk]
    assert result.dry_run and not result.committed
    assert run.status == RunStatus.DRY_RUN
    assert run.finished_at is not None
