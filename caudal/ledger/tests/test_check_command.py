"""``caudal check-ledger`` reports a sound ledger and names a broken one."""

import io
import json
from datetime import date

import pytest
from django.core.management import call_command
from django.db import connection

from caudal.ledger.actions import do_post_charge, do_post_payment


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    code: object
    try:
        call_command("check_ledger", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_sound_ledger_passes(account):
    do_post_charge(
        account,
        kind="bill",
        lines=[("water", 3000, ""), ("sewer", 1200, "")],
        document_date=date(2026, 10, 6),
        due_date=date(2026, 10, 26),
        reference="F-1",
        actor="test",
    )
    do_post_payment(account, amount=2500, payment_date=date(2026, 10, 20), actor="test")
    code, out, _err = run("--json")
    assert code == 0
    assert json.loads(out)["ok"] is True
    code, out, _err = run("--account", account.number)
    assert code == 0
    assert "conforme" in out


@pytest.mark.django_db
def test_tampered_open_amount_is_reported(account):
    doc = do_post_charge(
        account,
        kind="bill",
        lines=[("water", 3000, "")],
        document_date=date(2026, 10, 6),
        due_date=date(2026, 10, 26),
        reference="F-2",
        actor="test",
    )
    # Tamper behind the actions' back: open_amount is one of the columns the trigger allows.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ledger_openitem SET open_amount = open_amount - 100 WHERE document_id = %s",
            [doc.pk],
        )
    code, _out, err = run()
    assert code == 1
    assert err.strip()


@pytest.mark.django_db
def test_unknown_account_is_a_clear_error(utility):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No existe el suministro 999"):
        call_command("check_ledger", "--account", "999")
