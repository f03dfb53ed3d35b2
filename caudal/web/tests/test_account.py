"""The account 360 page, the statement (HTML and CSV) and the state on a past date."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.utils import timezone

from caudal.ledger import queries
from caudal.web import account360

pytestmark = pytest.mark.django_db


def test_360_shows_customer_property_services_and_money(rich_account, login):
    response = login("customer_service").get(f"/suministros/{rich_account.number}/")
    assert response.status_code == 200
    body = response.content.decode()
    for text in [
        "Rosa Elvira Quispe Mamani",
        "DNI",
        rich_account.customer.doc_number,
        "rosa.quispe@example.pe",
        "CAT-40012345",
        "Av. Huancavelica 1452",
        "MZ-14-LT-07",
        "-12.065113",
        "MED-2019-004512",
        "Cortada",
        "Corte por deuda",
        "Reclamo por consumo excesivo",
        "Doméstico",
    ]:
        assert text in body, text
    view = response.context["v"]
    assert view.balance == queries.balance(rich_account.pk) > 0
    assert view.overdue == queries.overdue_balance(rich_account.pk, timezone.localdate())
    assert view.blocked > 0
    assert [r.item.pk for r in view.items] == [i.pk for i in queries.open_items(rich_account.pk)]
    assert any(r.item.blocked for r in view.items)
    assert any(r.days_past_due > 0 for r in view.items)
    assert view.last_payment is not None
    # the balance appears formatted with the utility's currency
    from caudal.kernel.money import format_money

    assert format_money(view.balance, "PEN") in body


def test_360_statement_is_the_tail_of_the_ledger_statement(rich_account, login):
    view = login("cashier").get(f"/suministros/{rich_account.number}/").context["v"]
    full = queries.statement(rich_account.pk)
    assert view.statement == full[-account360.STATEMENT_ROWS :]
    assert view.statement_total == len(full)
    assert view.statement[-1].running_balance == queries.balance(rich_account.pk)


def test_360_audit_trail_of_the_account(rich_account, login):
    body = login("cashier").get(f"/suministros/{rich_account.number}/").content.decode()
    assert "PQR-2025-0142" in body  # the block event's after values
    assert "Partida bloqueada" in body


def test_360_query_count_is_constant(rich_account, login, django_assert_max_num_queries):
    client = login("cashier")
    client.get(f"/suministros/{rich_account.number}/")  # warm the per-process caches
    with django_assert_max_num_queries(20) as ctx:
        client.get(f"/suministros/{rich_account.number}/")
    small = len(ctx.captured_queries)
    from caudal.ledger import actions

    for month in range(1, 13):
        actions.do_post_charge(
            rich_account,
            kind="fee",
            lines=[("other", 100 + month, "Cargo")],
            document_date=date(2020, month, 1),
            due_date=date(2020, month, 20),
            actor="t",
        )
    with django_assert_max_num_queries(small):
        client.get(f"/suministros/{rich_account.number}/")
    with django_assert_max_num_queries(small + 3):
        client.get(f"/suministros/{rich_account.number}/?al=2020-06-30")


def test_unknown_account_is_404(login, utility):
    response = login("cashier").get("/suministros/99999999/")
    assert response.status_code == 404
    assert "No encontramos" in response.content.decode()


def test_state_as_of_a_past_date(rich_account, login):
    client = login("cartera_analyst")
    on = timezone.localdate() - timedelta(days=200)
    response = client.get(f"/suministros/{rich_account.number}/", {"al": on.isoformat()})
    view = response.context["v"]
    assert view.as_of.on == on
    assert view.as_of.balance == queries.balance_as_of(rich_account.pk, on)
    expected = queries.state_as_of(rich_account.pk, on)
    assert [(r.item.pk, r.open_amount) for r in view.as_of.items] == [
        (i.pk, amount) for i, amount in expected
    ]
    assert sum(r.open_amount for r in view.as_of.items if not r.is_credit) == view.as_of.balance
    assert 'data-testid="balance-as-of"' in response.content.decode()


@pytest.mark.parametrize("value", ["not-a-date", "2999-01-01"])
def test_state_as_of_rejects_bad_dates(rich_account, login, value):
    response = login("cashier").get(f"/suministros/{rich_account.number}/", {"al": value})
    assert response.status_code == 200
    assert response.context["v"].as_of is None
    assert response.context["as_of_invalid"]


def test_full_statement_page_with_range(rich_account, login):
    client = login("cashier")
    response = client.get(f"/suministros/{rich_account.number}/estado-de-cuenta/")
    assert response.status_code == 200
    rows = queries.statement(rich_account.pk)
    assert response.context["total_rows"] == len(rows)
    start = rows[5].date
    response = client.get(
        f"/suministros/{rich_account.number}/estado-de-cuenta/", {"desde": start.isoformat()}
    )
    page_rows = list(response.context["page"].object_list)
    assert page_rows[0].document_id is None  # opening balance row
    assert page_rows == queries.statement(rich_account.pk, start=start)


def test_statement_csv(rich_account, login):
    response = login("cashier").get(f"/suministros/{rich_account.number}/estado-de-cuenta.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "estado-de-cuenta_40012345.csv" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert table[0] == [
        "Fecha",
        "Documento",
        "Tipo",
        "Referencia",
        "Descripción",
        "Debe",
        "Haber",
        "Saldo",
    ]
    rows = queries.statement(rich_account.pk)
    assert len(table) == len(rows) + 1
    last = table[-1]
    from caudal.kernel.money import to_major

    assert last[7] == str(to_major(rows[-1].running_balance, "PEN"))
    assert table[1][2] == "Factura / recibo"


def test_account_audit_page(rich_account, login):
    response = login("auditor").get(f"/suministros/{rich_account.number}/auditoria/")
    assert response.status_code == 200
    page = response.context["page"]
    assert page.rows
    assert all(r.event.account_id == rich_account.pk for r in page.rows)
