"""Global search: exact lookups first, then names and addresses through the search index."""

from __future__ import annotations

import io

import pytest

from caudal.cadastre.models import Meter
from caudal.cadastre.testing import make_account
from caudal.web import search

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(utility):
    return {
        "rosa": make_account(
            "40012345",
            name="Rosa Elvira QUISPE Mamani",
            address="Av. Huancavelica 1452",
            doc_number="41234567",
        ),
        "jose": make_account("40012399", name="José Ñañez Pérez", address="Jr. Ica 310"),
        "muni": make_account(
            "50000001", name="Municipalidad Provincial", address="Plaza de Armas s/n"
        ),
    }


def numbers(results: search.SearchResults) -> list[str]:
    return [hit.account.number for hit in results.hits]


def test_exact_account_number_comes_first(people):
    results = search.search("40012345")
    assert numbers(results)[0] == "40012345"
    assert results.exact == people["rosa"]


def test_account_number_prefix(people):
    assert numbers(search.search("400123")) == ["40012345", "40012399"]
    assert numbers(search.search("5000")) == ["50000001"]


def test_document_and_meter_serial(people):
    assert numbers(search.search("41234567")) == ["40012345"]
    Meter.objects.create(account=people["jose"], serial="ZX-99812", installed_on="2020-01-01")
    results = search.search("ZX-99812")
    assert numbers(results) == ["40012399"]
    assert str(results.hits[0].matched) == str(search.MATCH_METER)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("quispe", ["40012345"]),
        ("QUISPE rosa", ["40012345"]),
        ("perez", ["40012399"]),  # accent-insensitive
        ("ñañez", ["40012399"]),
        ("nanez jose", ["40012399"]),
        ("huancavelica", ["40012345"]),  # address
        ("plaza armas", ["50000001"]),
        ("gonzalez", []),
    ],
)
def test_name_and_address(people, query, expected):
    assert numbers(search.search(query)) == expected


def test_word_prefix(people):
    assert numbers(search.search("quis")) == ["40012345"]
    assert numbers(search.search("ros elv quis")) == ["40012345"]
    assert numbers(search.search("huancavelica 14")) == ["40012345"]


def test_renamed_customer_after_indexing(people):
    assert numbers(search.search("perez")) == ["40012399"]  # indexes the new rows
    customer = people["jose"].customer
    customer.name = "Josefina Alarcón"
    customer.save()  # the update trigger replaces the indexed name
    assert numbers(search.search("alarcon")) == ["40012399"]
    assert numbers(search.search("perez")) == []
    people["jose"].property.address = "Av. Ferrocarril 1200"
    people["jose"].property.save()
    assert numbers(search.search("ferrocarril")) == ["40012399"]
    assert numbers(search.search("ica 310")) == []


def test_catch_up_indexes_new_rows_in_one_batch(people, utility):
    from django.db import connection

    from caudal.web import search_index

    search_index.catch_up(connection)
    assert search_index.catch_up(connection) == 0  # nothing pending: no write
    for i in range(5):
        make_account(f"6{i:07d}", name=f"Teodora Ccama {i}")
    expected = 10 if connection.vendor == "sqlite" else 0  # 5 customers and 5 properties
    assert search_index.catch_up(connection) == expected  # PostgreSQL: GIN, nothing to do
    assert len(search.search("ccama").hits) == 5


def test_renamed_customer_is_found_by_new_name(people):
    customer = people["jose"].customer
    customer.name = "Josefina Alarcón"
    customer.save()
    assert numbers(search.search("alarcon")) == ["40012399"]
    assert numbers(search.search("perez")) == []


def test_short_query_asks_for_more(people):
    results = search.search("ro")
    assert results.too_short and not results.hits


def test_results_are_capped(utility):
    for i in range(search.LIMIT + 5):
        make_account(f"7{i:07d}", name=f"Carmen Flores {i}")
    results = search.search("flores")
    assert len(results.hits) == search.LIMIT
    assert results.truncated


def test_constant_number_of_queries(people, django_assert_max_num_queries):
    search.search("quispe")  # the once-per-process catalogue check, indexing new rows
    with django_assert_max_num_queries(9):
        search.search("quispe")
    with django_assert_max_num_queries(9):
        search.search("40012345")


def test_index_is_installed():
    from django.db import connection

    from caudal.web import search_index

    assert search_index.is_installed(connection)


def test_fallback_without_index(people, monkeypatch):
    monkeypatch.setattr(search, "index_available", lambda: False)
    assert numbers(search.search("quispe")) == ["40012345"]


# --- the page ------------------------------------------------------------------------


def test_exact_number_redirects_to_the_account(people, login):
    response = login("cashier").get("/buscar/", {"q": " 40012345 "})
    assert response.status_code == 302
    assert response["Location"] == "/suministros/40012345/"


def test_search_page_lists_results(people, login):
    response = login("customer_service").get("/buscar/", {"q": "quispe"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Rosa Elvira QUISPE Mamani" in body
    assert 'href="/suministros/40012345/"' in body
    assert "<html" in body


def test_htmx_request_gets_only_the_results(people, login):
    response = login("cashier").get("/buscar/", {"q": "40012345"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200  # no redirect while typing
    assert "<html" not in body
    assert "40012345" in body
    assert "HX-Request" in response["Vary"]


def test_no_results_message(people, login):
    body = login("cashier").get("/buscar/", {"q": "gonzalez"}).content.decode()
    assert "Ningún suministro coincide" in body


def test_rebuild_command_and_check(people):
    from django.core.management import call_command
    from django.db import connection

    from caudal.web import checks, search_index

    if connection.vendor == "postgresql":  # fixtures left deferred FK checks pending
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    search_index.uninstall(connection)
    assert [w.id for w in checks.search_index_installed(databases=["default"])] == [
        "caudal.web.W001"
    ]
    call_command("rebuild_search_index", stdout=io.StringIO())
    assert checks.search_index_installed(databases=["default"]) == []
    search.forget_index_state()
    assert numbers(search.search("quispe")) == ["40012345"]


def test_update_command(people):
    from django.core.management import call_command

    out = io.StringIO()
    call_command("update_search_index", stdout=out)
    assert "search index" in out.getvalue()
