"""The administration site: configuration edited by the manager, viewed by the auditor,
the ledger read-only for everyone."""

from __future__ import annotations

import pytest

from caudal.cadastre.models import Municipality, Zone
from caudal.cadastre.testing import make_route

pytestmark = pytest.mark.django_db


def test_manager_edits_a_zone(login, utility):
    make_route()
    zone = Zone.objects.get()
    client = login("manager")
    response = client.post(
        f"/admin/cadastre/zone/{zone.pk}/change/",
        {"code": zone.code, "name": "Zona Centro", "municipality": zone.municipality_id},
    )
    assert response.status_code == 302
    zone.refresh_from_db()
    assert zone.name == "Zona Centro"


def test_auditor_cannot_edit(login, utility):
    make_route()
    zone = Zone.objects.get()
    client = login("auditor")
    page = client.get(f"/admin/cadastre/zone/{zone.pk}/change/")
    assert page.status_code == 200
    assert b'name="name"' not in page.content  # read-only form
    response = client.post(
        f"/admin/cadastre/zone/{zone.pk}/change/",
        {"code": zone.code, "name": "Otra", "municipality": zone.municipality_id},
    )
    assert response.status_code == 403
    zone.refresh_from_db()
    assert zone.name == "Zona 1"


def test_admin_is_in_spanish(login):
    body = login("manager").get("/admin/").content.decode()
    assert "Caudal — administración" in body
    assert "Municipios / distritos" in body or "municipios / distritos" in body.lower()


def test_ledger_is_view_only_even_for_superusers(login, rich_account):
    from caudal.ledger.models import Document

    client = login("superuser")
    doc = Document.objects.filter(account=rich_account)[0]
    page = client.get(f"/admin/ledger/document/{doc.pk}/change/")
    assert page.status_code == 200
    assert b"deletelink" not in page.content
    assert client.get("/admin/ledger/document/add/").status_code == 403
    assert client.post(f"/admin/ledger/document/{doc.pk}/delete/").status_code == 403


def test_utility_settings_single_row(login, utility):
    client = login("manager")
    assert client.get("/admin/cadastre/utilitysettings/add/").status_code == 403
    assert client.get("/admin/cadastre/utilitysettings/1/change/").status_code == 200


def test_municipality_add(login):
    client = login("manager")
    response = client.post(
        "/admin/cadastre/municipality/add/",
        {"code": "M09", "name": "Chilca", "department": "Junín"},
    )
    assert response.status_code == 302
    assert Municipality.objects.filter(code="M09").exists()
