"""The cadastre import against a database (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from caudal.audit.models import AuditEvent, Run
from caudal.cadastre.imports import import_cadastre
from caudal.cadastre.models import (
    Account,
    Connection,
    ConnectionStatusChange,
    Customer,
    Cycle,
    Meter,
    Municipality,
    Property,
    Route,
    Sector,
    Zone,
)

from .conftest import read_example

pytestmark = pytest.mark.django_db

COUNTED = (Customer, Property, Account, Connection, ConnectionStatusChange, Meter, Route)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def test_example_imports_with_exact_counts(peru, examples):
    result = import_cadastre(examples / "cadastre.csv", actor="test")
    assert result.errors == []
    assert result.committed
    assert (result.rows, result.created, result.updated, result.unchanged) == (20, 20, 0, 0)
    assert result.extra["customers_created"] == 19  # one customer holds two accounts
    assert result.extra["connections_created"] == 39  # one account has no sewer
    assert result.extra["meters_installed"] == 16
    assert result.extra["routes_created"] == 4
    assert counts() == {
        "Customer": 19,
        "Property": 20,
        "Account": 20,
        "Connection": 39,
        "ConnectionStatusChange": 39,
        "Meter": 16,
        "Route": 4,
    }
    assert Municipality.objects.get(code="080108").name == "Wanchaq"
    assert Zone.objects.get(code="Z02").municipality.code == "080108"
    assert Sector.objects.get(code="S022").zone.code == "Z02"
    route = Route.objects.get(code="R0202")
    assert (route.sector.code, route.cycle.code, route.name) == ("S022", "C02", "R0202")
    assert Cycle.objects.get(code="C02").name == "C02"

    rosa = Customer.objects.get(doc_type="DNI", doc_number="23801245")
    assert sorted(rosa.accounts.values_list("number", flat=True)) == ["01000101", "02000204"]
    assert (rosa.email, rosa.consent_email, rosa.consent_date) == (
        "rosa.quispe@gmail.com",
        True,
        date(2023, 5, 10),
    )
    leading_zero = Customer.objects.get(doc_number="07458963")
    assert leading_zero.name == "Ccahuana Ttito María Luisa"
    company = Account.objects.select_related("customer", "property").get(number="01000103")
    assert (company.customer.doc_type, company.customer.doc_number) == ("RUC", "20601234565")
    assert (company.category, company.units, company.segment) == ("commercial", 3, "vip")
    assert company.property.latitude == Decimal("-13.515922")
    assert company.property.municipal_ref == "CU-0012347"

    cut = Account.objects.get(number="01000104")
    assert cut.opened_on == date(1998, 9, 2)  # written 02/09/1998
    water = cut.connections.get(service="water")
    assert (water.status, water.status_since) == ("cut", date(2025, 1, 15))
    assert list(water.history.values_list("status", "previous_status", "effective_on")) == [
        ("cut", "", date(2025, 1, 15))
    ]
    meter = Meter.objects.get(account=cut)
    assert (meter.serial, meter.installed_on, meter.removed_on) == (
        "ZN15007788",
        date(2015, 5, 12),
        None,
    )
    no_sewer = Account.objects.get(number="02000205")
    assert list(no_sewer.connections.values_list("service", "status")) == [("water", "clandestine")]
    assert not Meter.objects.filter(account=no_sewer).exists()


def test_audit_event_and_run(peru, examples):
    result = import_cadastre(examples / "cadastre.csv", actor="migración")
    run = Run.objects.get(pk=result.extra["run_id"])
    assert (run.kind, run.status) == ("import_cadastre", "done")
    assert run.counts["created"] == 20
    assert run.parameters["file"] == "cadastre.csv"
    events = AuditEvent.objects.filter(action="cadastre.import")
    assert events.count() == 1
    event = events.get()
    assert event.actor_label == "migración"
    assert event.object_id == str(run.pk)
    after = event.after or {}
    assert after["sha256"] == run.parameters["sha256"]
    assert len(after["sha256"]) == 64
    assert after["counts"]["created"] == 20


def test_reimport_is_unchanged(peru, examples):
    import_cadastre(examples / "cadastre.csv", actor="test")
    before = counts()
    again = import_cadastre(examples / "cadastre.csv", actor="test")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 20)
    assert counts() == before


def test_upsert_updates_appends_history_and_replaces_meter(peru, examples, csv_file):
    import_cadastre(examples / "cadastre.csv", actor="test")
    header, rows = read_example("cadastre.csv")
    by_number = {r["account_number"]: r for r in rows}
    by_number["01000102"]["address"] = "Jr. Tupac Amaru 251 Int. 2"
    by_number["01000104"].update(water_status="activa", water_status_since="2025-03-01")
    by_number["02000101"].update(
        meter_serial="IT25000001", meter_brand="Itron", meter_installed_on="2025-04-02"
    )
    by_number["01000105"].update(customer_name="Apaza Choque Wilber Raúl", mobile="951203041")
    result = import_cadastre(csv_file(header, rows), actor="test")
    assert result.errors == []
    assert (result.created, result.updated, result.unchanged) == (0, 4, 16)
    assert result.extra["properties_updated"] == 1
    assert result.extra["customers_updated"] == 1
    assert result.extra["status_changes"] == 1
    assert result.extra["meters_replaced"] == 1

    assert (
        Property.objects.get(cadastral_code="01-01-001-002").address == "Jr. Tupac Amaru 251 Int. 2"
    )
    water = Connection.objects.get(account__number="01000104", service="water")
    assert (water.status, water.status_since) == ("active", date(2025, 3, 1))
    assert list(
        water.history.order_by("effective_on").values_list(
            "status", "previous_status", "effective_on"
        )
    ) == [
        ("cut", "", date(2025, 1, 15)),
        ("active", "cut", date(2025, 3, 1)),
    ]
    meters = Meter.objects.filter(account__number="02000101").order_by("installed_on")
    assert [(m.serial, m.status, m.removed_on) for m in meters] == [
        ("ZN17004521", "removed", date(2025, 4, 2)),
        ("IT25000001", "installed", None),
    ]
    wilber = Customer.objects.get(doc_number="41236985")
    assert (wilber.name, wilber.mobile) == ("Apaza Choque Wilber Raúl", "951203041")


def test_absent_optional_columns_keep_stored_values(peru, examples, csv_file):
    import_cadastre(examples / "cadastre.csv", actor="test")
    header, rows = read_example("cadastre.csv")
    kept = [
        h
        for h in header
        if h
        not in (
            "email",
            "latitude",
            "longitude",
            "meter_serial",
            "meter_brand",
            "meter_diameter",
            "meter_digits",
            "meter_installed_on",
            "units",
        )
    ]
    result = import_cadastre(csv_file(kept, rows), actor="test")
    assert result.errors == []
    assert (result.updated, result.unchanged) == (0, 20)
    assert Customer.objects.get(doc_number="23801245").email == "rosa.quispe@gmail.com"
    assert Account.objects.get(number="01000103").units == 3
    assert Meter.objects.count() == 16


def test_transfer_of_holder(peru, examples, csv_file):
    """Cambio de titular: the account points to another customer, created on the fly."""
    import_cadastre(examples / "cadastre.csv", actor="test")
    header, rows = read_example("cadastre.csv")
    row = next(r for r in rows if r["account_number"] == "02000205")
    row.update(customer_doc_number="47512037", customer_name="Loaiza Pérez Ana")
    result = import_cadastre(csv_file(header, [row]), actor="test")
    assert (result.updated, result.extra["customers_created"]) == (1, 1)
    assert Account.objects.get(number="02000205").customer.name == "Loaiza Pérez Ana"


def test_dry_run_writes_nothing(peru, examples):
    result = import_cadastre(examples / "cadastre.csv", actor="test", dry_run=True)
    assert result.dry_run and not result.committed
    assert (result.created, result.extra["customers_created"], result.extra["routes_created"]) == (
        20,
        19,
        4,
    )
    assert counts() == dict.fromkeys(counts(), 0)
    assert Municipality.objects.count() == 0
    assert not AuditEvent.objects.filter(action="cadastre.import").exists()
    assert Run.objects.get(pk=result.extra["run_id"]).status == "dry_run"


def test_dry_run_of_an_update_reports_without_writing(peru, examples, csv_file):
    import_cadastre(examples / "cadastre.csv", actor="test")
    header, rows = read_example("cadastre.csv")
    rows[0]["address"] = "Otra dirección 1"
    result = import_cadastre(csv_file(header, rows), actor="test", dry_run=True)
    assert (result.updated, result.unchanged) == (1, 19)
    assert (
        Property.objects.get(cadastral_code=rows[0]["cadastral_code"]).address
        == "Jr. Tupac Amaru 245"
    )


def test_one_bad_row_writes_nothing(peru, examples, csv_file):
    header, rows = read_example("cadastre.csv")
    rows[5]["customer_doc_number"] = "2396587"  # line 7
    result = import_cadastre(csv_file(header, rows), actor="test")
    assert not result.committed
    assert [(e.line, e.column, e.value) for e in result.errors] == [
        (7, "customer_doc_number", "2396587")
    ]
    assert "8 dígitos" in result.errors[0].reason
    assert counts() == dict.fromkeys(counts(), 0)
    assert Run.objects.get(pk__isnull=False).status == "failed"


def test_partial_writes_good_rows(peru, examples):
    result = import_cadastre(examples / "cadastre-errors.csv", actor="test", partial=True)
    assert result.committed
    # lines 3, 4, 5, 6, 8, 9 have errors; lines 2 and 7 repeat an account number: both out.
    assert result.created == 1
    assert result.extra["rejected_rows"] == 8
    assert list(Account.objects.values_list("number", flat=True)) == ["09000009"]
    assert len(result.errors) == 12


def test_semicolons_bom_and_colombia(colombia, examples):
    result = import_cadastre(examples / "cadastre-co.csv", actor="test")
    assert result.errors == []
    assert result.created == 12
    assert dict(Account.objects.values_list("number", "stratum")) == {
        "11020001": 4,
        "11020002": 4,
        "11020003": None,
        "11020004": 3,
        "11020005": 2,
        "11020006": None,
        "11020007": 5,
        "11020008": 6,
        "11020009": None,
        "11020010": 6,
        "11020011": 1,
        "11020012": None,
    }
    nit = Customer.objects.get(doc_type="NIT", doc_number="9001234568")
    assert nit.name == "Comercializadora El Chicó S.A.S."
    prop = Property.objects.get(cadastral_code="AAA0012ABCD")
    assert (prop.latitude, prop.longitude) == (Decimal("4.655012"), Decimal("-74.058731"))
    assert Connection.objects.get(account__number="11020004", service="water").status == "cut"


def test_country_profile_decides_document_types(peru, examples):
    result = import_cadastre(examples / "cadastre-co.csv", actor="test")  # profile PE
    assert not result.committed
    assert {e.column for e in result.errors} >= {"customer_doc_type", "stratum", "latitude"}


def test_header_errors(peru, csv_file):
    path = csv_file(["account_number", "customer_doc_typ", "customer_doc_number"], [])
    result = import_cadastre(path, actor="test")
    found = {(e.line, e.column, e.reason) for e in result.errors}
    assert (1, "customer_doc_typ", "columna desconocida") in found
    assert (1, "customer_doc_type", "falta la columna obligatoria") in found
    assert (1, "water_status", "falta la columna obligatoria") in found


def test_not_utf8(peru, examples, tmp_path):
    text = (examples / "cadastre.csv").read_text(encoding="utf-8")
    path = tmp_path / "latin1.csv"
    path.write_bytes(text.encode("latin-1"))
    result = import_cadastre(path, actor="test")
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error.line == 3  # "Huamán" in the second data row
    assert "UTF-8" in error.reason


def test_ragged_row_is_reported(peru, examples, tmp_path):
    lines = (examples / "cadastre.csv").read_text(encoding="utf-8").splitlines()
    lines[4] += ",extra"
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = import_cadastre(path, actor="test")
    assert [(e.line, e.reason) for e in result.errors] == [
        (5, "la fila tiene 37 campos y la cabecera 36")
    ]


def test_line_numbers_survive_quoted_line_breaks_and_blank_lines(peru, examples, csv_file):
    header, rows = read_example("cadastre.csv")
    rows[0]["address"] = "Jr. Tupac Amaru 245\nFrente al parque"
    rows[3]["category"] = "vivienda"
    path = csv_file(header, rows)
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    parts = text.split("\n")
    parts.insert(3, "")  # a blank line after the second data row
    path.write_text("\n".join(parts), encoding="utf-8")
    result = import_cadastre(path, actor="test")
    # header 1, row 1 on lines 2-3, row 2 on line 4, blank line 5, rows 3-4 on 6-7
    assert [(e.line, e.column) for e in result.errors] == [(7, "category")]


def test_conflicts_inside_the_file(peru, examples, csv_file):
    header, rows = read_example("cadastre.csv")
    rows[1]["customer_doc_number"] = rows[0]["customer_doc_number"]  # same DNI, other name
    rows[2]["cadastral_code"] = rows[0]["cadastral_code"]  # same property, other address
    rows[3]["route_code"] = "R0201"  # route R0201 is in sector S021, not S011
    result = import_cadastre(csv_file(header, rows), actor="test")
    assert [(e.line, e.column) for e in result.errors] == [
        (3, "customer_name"),
        (4, "address"),
        (4, "sequence"),
        (4, "latitude"),
        (4, "longitude"),
        (4, "municipal_ref"),
        (5, "sector_code"),
        (5, "cycle_code"),
    ]
    assert result.errors[0].reason == "el titular DNI 23801245 tiene otro nombre en la línea 2"
    assert "línea 12" in result.errors[-1].reason  # R0201 first appears on line 12


def test_conflicts_with_the_stored_hierarchy(peru, examples, csv_file):
    import_cadastre(examples / "cadastre.csv", actor="test")
    header, rows = read_example("cadastre.csv")
    row = dict(rows[0], account_number="01000199", cadastral_code="NEW-1", sector_code="S021")
    result = import_cadastre(csv_file(header, [row]), actor="test")
    assert [(e.line, e.column, e.reason) for e in result.errors] == [
        (2, "zone_code", "el sector S021 pertenece a la zona Z02 en el catastro"),
        (2, "sector_code", "la ruta R0101 pertenece al sector S011 en el catastro"),
    ]


def test_backdated_status_change_and_meter_are_refused(peru, examples, csv_file):
    import_cadastre(examples / "cadastre.csv", actor="test")
    header, rows = read_example("cadastre.csv")
    row = next(r for r in rows if r["account_number"] == "01000104")
    row.update(water_status="active", water_status_since="2024-12-31")  # cut since 2025-01-15
    row.update(meter_serial="NEW-METER", meter_installed_on="2010-01-01")  # current: 2015
    result = import_cadastre(csv_file(header, [row]), actor="test")
    assert [(e.column, e.reason) for e in result.errors] == [
        ("water_status_since", "la fecha es anterior al estado vigente (cut desde 2025-01-15)"),
        (
            "meter_installed_on",
            "el medidor nuevo se instala antes que el actual (ZN15007788, instalado el 2015-05-12)",
        ),
    ]


def test_broken_example_reports_every_error(peru, examples):
    result = import_cadastre(examples / "cadastre-errors.csv", actor="test")
    assert [(e.line, e.column, e.value) for e in result.errors] == [
        (2, "account_number", "09000001"),
        (3, "customer_doc_number", "7458963"),
        (4, "customer_doc_number", "20601234566"),
        (5, "category", "vivienda"),
        (5, "stratum", "3"),
        (6, "latitude", "13.518200"),
        (6, "opened_on", "31/02/2020"),
        (7, "account_number", "09000001"),
        (8, "customer_name", ""),
        (8, "water_status", "conectada"),
        (9, "email", "juan.perez@"),
        (9, "meter_digits", "12"),
    ]
    assert counts() == dict.fromkeys(counts(), 0)


@pytest.mark.django_db(transaction=True)
def test_top_level_transaction_keeps_foreign_keys_sound(peru, examples):
    """Outside a test transaction the import runs its own, with SQLite's per-row foreign
    key look-ups off: every reference must still resolve."""
    assert not connection.in_atomic_block
    result = import_cadastre(examples / "cadastre.csv", actor="test")
    assert result.committed
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA foreign_key_check")
            assert cursor.fetchall() == []
            cursor.execute("PRAGMA foreign_keys")
            assert cursor.fetchone()[0] == 1  # restored
    assert (
        Account.objects.filter(customer__isnull=False, property__route__isnull=False).count() == 20
    )


def test_several_hundred_rows_fill_multi_row_statements(peru, examples, csv_file):
    """More rows than one multi-row INSERT holds, and a remainder: every row lands once."""
    header, rows = read_example("cadastre.csv")
    many = []
    for i in range(317):
        row = dict(rows[i % len(rows)])
        row.update(
            account_number=f"7{i:07d}",
            customer_doc_type="DNI",
            customer_doc_number=f"{60000000 + i}",
            customer_name=f"Titular {i}",
            cadastral_code=f"M-{i:05d}",
            sequence=str(i + 1),
            meter_serial=f"MS{i:06d}" if row["meter_serial"] else "",
        )
        many.append(row)
    result = import_cadastre(csv_file(header, many), actor="test")
    assert result.errors == []
    assert (result.created, result.extra["customers_created"]) == (317, 317)
    assert Account.objects.count() == 317
    assert Customer.objects.filter(name__startswith="Titular ").count() == 317
    numbers = set(Account.objects.values_list("number", flat=True))
    assert numbers == {f"7{i:07d}" for i in range(317)}
    assert Property.objects.filter(accounts__isnull=True).count() == 0
