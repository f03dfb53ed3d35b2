"""Importing tariff files as versions, choosing the version of a day, the command."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from django.core.management import call_command

from caudal.audit.models import AuditEvent
from caudal.kernel.errors import DomainError
from caudal.tariffs import queries
from caudal.tariffs.actions import do_import_tariff
from caudal.tariffs.models import TariffVersion
from caudal.tariffs.rules import AccountInput, price
from caudal.tariffs.schema import TariffFileError
from caudal.tariffs.testing import BROKEN, COLOMBIA, SEDAPAL, make_tariff

pytestmark = pytest.mark.django_db

SEDAPAL_TEXT = SEDAPAL.read_text(encoding="utf-8")


def test_import_creates_version_one_audited():
    version = do_import_tariff(SEDAPAL_TEXT, source_name="sedapal.yaml", actor="ana")
    assert (version.code, version.version, version.country) == ("SEDAPAL-2015", 1, "PE")
    assert version.valid_from == date(2015, 6, 1) and version.valid_to is None
    assert version.resolution == "RCD 022-2015-SUNASS-CD"
    assert version.source_text == SEDAPAL_TEXT and len(version.sha256) == 64
    assert version.document["categories"]["domestic"]["blocks"][1]["water"] == "1.295"
    event = AuditEvent.objects.get(action="tariffs.import")
    assert event.actor_label == "ana" and event.object_id == str(version.pk)
    assert event.after is not None
    assert event.after["code"] == "SEDAPAL-2015" and event.after["version"] == 1


def test_same_content_again_is_idempotent():
    first = do_import_tariff(SEDAPAL_TEXT, source_name="a.yaml", actor="ana")
    again = do_import_tariff(SEDAPAL_TEXT, source_name="b.yaml", actor="luis")
    assert again.pk == first.pk
    assert TariffVersion.objects.count() == 1
    assert AuditEvent.objects.filter(action="tariffs.import").count() == 1


def test_changed_content_is_the_next_version():
    first = do_import_tariff(SEDAPAL_TEXT, source_name="a.yaml", actor="ana")
    changed = SEDAPAL_TEXT.replace("fixed: 4.886       # S/ per month", "fixed: 5.000")
    second = do_import_tariff(changed, source_name="b.yaml", actor="ana")
    assert (second.code, second.version) == ("SEDAPAL-2015", 2)
    assert second.pk != first.pk
    # and the first content again is the first version, not a third
    assert do_import_tariff(SEDAPAL_TEXT, source_name="c.yaml", actor="ana").pk == first.pk


def test_dry_run_writes_nothing():
    version = do_import_tariff(SEDAPAL_TEXT, source_name="a.yaml", actor="ana", dry_run=True)
    assert version.pk is None and version.version == 1
    assert not TariffVersion.objects.exists() and not AuditEvent.objects.exists()


def test_invalid_file_writes_nothing():
    with pytest.raises(TariffFileError) as info:
        do_import_tariff(BROKEN.read_text(encoding="utf-8"), source_name="x", actor="ana")
    assert len(info.value.errors) == 10
    assert not TariffVersion.objects.exists()


def test_tariff_on_picks_the_version_valid_that_day():
    v1 = make_tariff(SEDAPAL)
    co = make_tariff(COLOMBIA)
    assert queries.tariff_on(date(2015, 6, 1), country="PE") == v1
    assert queries.tariff_on(date(2025, 3, 1), country="CO") == co
    # both valid in 2025 without a country: the one that took effect last wins
    assert queries.tariff_on(date(2025, 3, 1)) == co
    with pytest.raises(DomainError, match="No hay tarifa vigente el 2015-05-31"):
        queries.tariff_on(date(2015, 5, 31), country="PE")
    # a corrected file (version 2) replaces version 1 from its first day
    v2 = do_import_tariff(
        SEDAPAL_TEXT.replace("fixed: 4.886       # S/ per month", "fixed: 5.000"),
        source_name="b.yaml",
        actor="ana",
    )
    assert queries.tariff_on(date(2016, 1, 1), country="PE") == v2
    # a new schedule (another code) taking effect later replaces the open one
    newer = do_import_tariff(
        SEDAPAL_TEXT.replace("code: SEDAPAL-2015", "code: SEDAPAL-2025").replace(
            "valid_from: 2015-06-01", "valid_from: 2025-07-01"
        ),
        source_name="c.yaml",
        actor="ana",
    )
    assert queries.tariff_on(date(2025, 6, 30), country="PE") == v2
    assert queries.tariff_on(date(2025, 7, 1), country="PE") == newer


def test_two_codes_starting_the_same_day_are_ambiguous():
    make_tariff(SEDAPAL)
    do_import_tariff(
        SEDAPAL_TEXT.replace("code: SEDAPAL-2015", "code: OTRA"), source_name="x", actor="a"
    )
    with pytest.raises(DomainError, match=r"ambiguas.*OTRA, SEDAPAL-2015"):
        queries.tariff_on(date(2016, 1, 1))


def test_load_is_cached_and_carries_the_version():
    version = make_tariff(SEDAPAL)
    tariff = queries.load(version)
    assert tariff.version == 1 and tariff.label == "SEDAPAL-2015 v1"
    assert queries.load(TariffVersion.objects.get(pk=version.pk)) is tariff
    charge = price(AccountInput("domestic", 30), tariff, months=1)[0]
    assert charge.explain().startswith("Tarifa SEDAPAL-2015 v1 · Cargo fijo")


# --- the command ---------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_tariff", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_command_imports_then_reports_unchanged():
    code, out, _err = run(str(SEDAPAL))
    assert code == 0 and "Importada: SEDAPAL-2015 versión 1" in out
    code, out, _err = run(str(SEDAPAL), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["status"] == "unchanged" and result["version"] == 1 and result["ok"]
    code, out, _err = run(str(SEDAPAL))
    assert "Sin cambios: ese mismo archivo ya es SEDAPAL-2015 versión 1" in out


def test_command_dry_run(tmp_path):
    code, out, _err = run(str(COLOMBIA), "--dry-run")
    assert code == 0
    assert "se importaría como CO-EJEMPLO-2025 versión 1, vigente desde 2025-01-01" in out
    assert not TariffVersion.objects.exists()


def test_command_lists_every_error_by_key_and_exits_1():
    code, _out, err = run(str(BROKEN))
    assert code == 1
    assert "categories.domestic.blocks[2].to: debe ser mayor que 'from' (25)" in err
    assert "categories.hotel: clave desconocida" in err
    assert "tiene 10 errores" in err
    code, out, _err = run(str(BROKEN), "--json")
    result = json.loads(out)
    assert code == 1 and result["ok"] is False and len(result["errors"]) == 10
    assert result["errors"][0] == {
        "key": "code",
        "reason": "use letras, dígitos, '.', '_' o '-' (sin espacios), hasta 40",
    }
    assert not TariffVersion.objects.exists()


def test_command_missing_file(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No existe el archivo"):
        call_command("import_tariff", str(tmp_path / "nada.yaml"))
