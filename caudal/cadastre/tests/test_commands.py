"""``caudal import-cadastre`` and ``caudal import-balances`` fed the files of docs/examples."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from caudal.cadastre.models import Account, Customer
from caudal.ledger.models import Document, OpenItem

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_good_files_import(peru, examples):
    code, out, err = run("import_cadastre", str(examples / "cadastre.csv"))
    assert (code, err) == (0, "")
    assert out.startswith("Importado: cadastre.csv — 20 filas, 20 nuevos, 0 actualizados")
    code, out, err = run("import_balances", str(examples / "balances.csv"))
    assert (code, err) == (0, "")
    assert "26 filas, 10 nuevos" in out
    assert Document.objects.count() == 10
    assert OpenItem.objects.count() == 26
    code, out, _err = run("import_balances", str(examples / "balances.csv"), "--json")
    data = json.loads(out)
    assert (code, data["created"], data["unchanged"], data["errors"]) == (0, 0, 10, [])


def test_colombian_file_with_country_option(peru, examples):
    code, out, err = run("import_cadastre", str(examples / "cadastre-co.csv"), "--country", "CO")
    assert (code, err) == (0, "")
    assert "12 nuevos" in out
    assert Customer.objects.filter(doc_type="NIT").count() == 3


def test_broken_file_reports_and_writes_nothing(peru, examples):
    code, out, err = run("import_cadastre", str(examples / "cadastre-errors.csv"))
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 12
    assert lines[0] == (
        "línea 2, columna account_number: número de suministro repetido en el archivo "
        "(también en la línea 7) (valor '09000001')"
    )
    assert lines[1] == (
        "línea 3, columna customer_doc_number: el DNI tiene 8 dígitos (si Excel quitó los "
        "ceros a la izquierda, repóngalos) (valor '7458963')"
    )
    assert lines[2] == (
        "línea 4, columna customer_doc_number: dígito de verificación incorrecto del RUC "
        "(valor '20601234566')"
    )
    assert lines[8] == "línea 8, columna customer_name: falta el valor"
    assert out.startswith("No se importó nada: cadastre-errors.csv — 9 filas")
    assert "12 errores" in out
    assert Account.objects.count() == 0


def test_json_lists_every_error(peru, examples):
    code, out, _err = run("import_cadastre", str(examples / "cadastre-errors.csv"), "--json")
    data = json.loads(out)
    assert code == 1
    assert data["committed"] is False
    assert len(data["errors"]) == 12
    assert data["errors"][5] == {
        "line": 6,
        "column": "latitude",
        "reason": "latitud fuera de Perú (¿signo o latitud/longitud invertidas?)",
        "value": "13.518200",
    }


def test_partial_exits_2_and_dry_run_writes_nothing(peru, examples):
    code, out, _err = run(
        "import_cadastre", str(examples / "cadastre-errors.csv"), "--dry-run", "--partial"
    )
    assert code == 2
    assert out.startswith("Simulación (no se escribió nada)")
    assert Account.objects.count() == 0
    code, out, err = run("import_cadastre", str(examples / "cadastre-errors.csv"), "--partial")
    assert code == 2
    assert out.startswith("Importado: cadastre-errors.csv — 9 filas, 1 nuevos")
    assert len(err.splitlines()) == 12
    assert list(Account.objects.values_list("number", flat=True)) == ["09000009"]


def test_first_50_errors_then_a_count(peru, tmp_path, examples):
    header = (examples / "cadastre.csv").read_text(encoding="utf-8").splitlines()[0]
    bad = "\n".join(f"X{i},DNI,123,Nombre {i}" + "," * 32 for i in range(60))
    path = tmp_path / "many.csv"
    path.write_text(f"{header}\n{bad}\n", encoding="utf-8")
    code, _out, err = run("import_cadastre", str(path))
    lines = err.splitlines()
    assert code == 1
    assert len(lines) == 51
    assert lines[-1].startswith("… y ")
    assert lines[-1].endswith("errores más (use --json para verlos todos)")


def test_missing_file(peru, tmp_path):
    with pytest.raises(CommandError, match="No existe el archivo"):
        call_command("import_cadastre", str(tmp_path / "nope.csv"))
