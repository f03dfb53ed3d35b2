"""``caudal import-payments``: messages, JSON and exit codes (0 posted or already imported,
1 errors in the file and nothing posted, 2 usage errors)."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from caudal.cadastre.testing import make_account
from caudal.collection.models import Payment, PaymentFile
from caudal.collection.tests.test_import_payments import BANK, aso, charge, today

pytestmark = pytest.mark.django_db


def command(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("import_payments", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def owing(bank):
    account = make_account()
    charge(account, 5_000, today() - timedelta(days=20))
    return account


@pytest.fixture
def bank(db, utility):
    from caudal.collection.models import CentreKind
    from caudal.collection.testing import make_centre

    return make_centre(BANK, kind=CentreKind.BANK)


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_import_then_reimport(owing, tmp_path):
    path = write(tmp_path, "rec.txt", aso([{"reference": owing.number, "amount": 6_000}]))
    code, out, err = command(path, "--format", "asobancaria2001", "--centre", BANK)
    assert code == 0 and err == ""
    assert "Importado: rec.txt" in out and "1 pagos" in out and "10,00" in out
    file_id = PaymentFile.objects.get().pk
    assert f"archivo id {file_id}" in out

    code, out, _err = command(path, "--format", "asobancaria2001", "--centre", BANK)
    assert code == 0 and "ya se importó el" in out and f"(archivo id {file_id})" in out
    code, out, _err = command(path, "--format", "asobancaria2001", "--centre", BANK, "--json")
    answer = json.loads(out)
    assert code == 0 and answer["already_imported"] is True and answer["file_id"] == file_id
    assert answer["committed"] is False and answer["imported_at"]
    assert Payment.objects.count() == 1


def test_json_of_a_posted_file(owing, tmp_path):
    path = write(tmp_path, "rec.txt", aso([{"reference": owing.number, "amount": 5_000}]))
    code, out, _err = command(path, "--format", "asobancaria2001", "--centre", BANK, "--json")
    answer = json.loads(out)
    assert code == 0
    assert answer["committed"] is True and answer["posted"] == 1 and answer["total"] == 5_000
    assert answer["credit_left"] == 0 and answer["errors"] == [] and answer["error_count"] == 0
    assert set(answer["timings"]) == {"parse", "resolve", "post", "commit"}
    assert answer["file_id"] == PaymentFile.objects.get().pk and answer["run_id"]


def test_dry_run(owing, tmp_path):
    path = write(tmp_path, "rec.txt", aso([{"reference": owing.number, "amount": 6_000}]))
    code, out, _err = command(
        path, "--format", "asobancaria2001", "--centre", BANK, "--dry-run", "--json"
    )
    answer = json.loads(out)
    assert code == 0 and answer["dry_run"] is True and answer["committed"] is False
    assert answer["posted"] == 1 and answer["credit_left"] == 1_000
    assert not Payment.objects.exists()
    code, out, _err = command(path, "--format", "asobancaria2001", "--centre", BANK, "--dry-run")
    assert code == 0 and out.startswith("Simulación (no se aplicó nada)")


def test_errors_exit_1_naming_line_and_field(owing, tmp_path):
    data = aso([{"reference": owing.number, "amount": 100}, {"reference": "424242", "amount": 5}])
    path = write(tmp_path, "bad.txt", data)
    code, out, err = command(path, "--format", "asobancaria2001", "--centre", BANK)
    assert code == 1
    assert "línea 4, campo reference: No existe un suministro ni un recibo" in err
    assert "No se aplicó nada" in out and not Payment.objects.exists()
    code, out, _err = command(path, "--format", "asobancaria2001", "--centre", BANK, "--json")
    answer = json.loads(out)
    assert code == 1 and answer["committed"] is False
    assert answer["errors"][0]["line"] == 4 and answer["errors"][0]["field"] == "reference"


def test_structure_error_exit_1(bank, tmp_path):
    path = write(tmp_path, "broken.txt", b"01 not a header\r\n")
    code, _out, err = command(path, "--format", "asobancaria2001", "--centre", BANK)
    assert code == 1 and "línea 1, campo" in err


def test_usage_errors_exit_2(bank, tmp_path):
    with pytest.raises(CommandError) as missing:
        command(str(tmp_path / "nope.txt"), "--format", "csv", "--centre", BANK)
    assert missing.value.returncode == 2
    path = write(tmp_path, "p.csv", b"reference,amount\n1,2\n")
    with pytest.raises(CommandError) as centre:
        command(path, "--format", "csv", "--centre", "NOPE")
    assert centre.value.returncode == 2 and "NOPE" in str(centre.value)
    with pytest.raises(CommandError) as day:
        command(path, "--format", "csv", "--centre", BANK, "--date", "11/10/2026")
    assert day.value.returncode == 2


def test_date_option_for_records_without_date(owing, tmp_path):
    day = today() - timedelta(days=4)
    path = write(
        tmp_path,
        "p.csv",
        f"reference,amount,method,external_reference\n{owing.number},50.00,cash,X1\n".encode(),
    )
    code, _out, err = command(path, "--format", "csv", "--centre", BANK, "--date", day.isoformat())
    assert code == 0, err
    assert Payment.objects.get().payment_date == day
