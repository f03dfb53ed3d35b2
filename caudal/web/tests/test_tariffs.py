"""Tariff pages: versions, detail with the simulator, import with errors by key."""

from __future__ import annotations

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caudal.cadastre.testing import make_utility
from caudal.tariffs.models import TariffVersion
from caudal.tariffs.testing import BROKEN, COLOMBIA, SEDAPAL, make_tariff

pytestmark = pytest.mark.django_db


def text(response) -> str:
    body = response.content.decode()
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def test_list_shows_versions_and_the_current_one(utility, login):
    pe = make_tariff(SEDAPAL)
    make_tariff(COLOMBIA)
    client = login("cashier")
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/tarifas/")
    assert response.status_code == 200
    body = text(response)
    assert "SEDAPAL-2015" in body and "CO-EJEMPLO-2025" in body
    assert "Vigente hoy (" in body
    assert "SEDAPAL-2015 versión 1" in body  # the PE utility's current tariff
    assert f'href="/tarifas/{pe.pk}/"' in response.content.decode()
    assert "Importar tarifa" not in body  # a cashier cannot import
    assert len(queries) <= 8, [q["sql"] for q in queries.captured_queries]


def test_list_offers_import_to_billing_analysts(utility, login):
    body = login("billing_analyst").get("/tarifas/").content.decode()
    assert 'href="/tarifas/importar/"' in body
    assert "Todavía no hay tarifas" in body


def test_detail_shows_blocks_fixed_charge_and_assigned_volumes(utility, login):
    version = make_tariff(SEDAPAL)
    body = text(login("customer_service").get(f"/tarifas/{version.pk}/"))
    assert "RCD 022-2015-SUNASS-CD" in body
    assert "10–25 m³ 1.295 0.586" in body
    assert "escalonado: cada m³ a la tarifa de su bloque" in body
    assert "todo el volumen a la tarifa del bloque en que cae" in body  # comercial
    assert "Cargo fijo 4.886 por mes" in body
    assert "volumen asignado: 20 m³/mes y unidad" in body
    assert "IGV 18 % sobre cargo fijo, agua potable, alcantarillado" in body
    assert "a la unidad menor (céntimo o centavo)" in body


def test_simulator_prices_a_bill_with_its_explanation(utility, login):
    version = make_tariff(SEDAPAL)
    client = login("customer_service")
    response = client.get(
        f"/tarifas/{version.pk}/",
        {
            "simular": "1",
            "categoria": "domestic",
            "unidades": "1",
            "consumo": "30",
            "meses": "1",
            "agua": "on",
            "alcantarillado": "on",
        },
    )
    body = text(response)
    assert "Total del periodo S/ 82.73" in body
    assert "Agua potable 10–25 m³ 10–25 m³ 15 1.295 19.43 19.43" in body
    assert (
        "Tarifa SEDAPAL-2015 v1 · Agua potable 10–25 m³: 15 m³ × S/ 1.295 por m³ = S/ 19.43" in body
    )
    assert "IGV 18 %: 18 % de S/ 70.11 = S/ 12.62" in body


def test_simulator_htmx_returns_only_the_result(utility, login):
    version = make_tariff(SEDAPAL)
    response = login("cashier").get(
        f"/tarifas/{version.pk}/",
        {
            "simular": "1",
            "categoria": "commercial",
            "unidades": "1",
            "consumo": "1200",
            "meses": "1",
            "agua": "on",
            "alcantarillado": "on",
        },
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="sim-result"')
    assert "S/ 10,716.39" in body
    assert "<html" not in body
    assert "HX-Request" in response["Vary"]


def test_simulator_colombia_with_stratum_and_municipality(login):
    make_utility("CO")
    version = make_tariff(COLOMBIA)
    client = login("customer_service")
    response = client.get(
        f"/tarifas/{version.pk}/",
        {
            "simular": "1",
            "categoria": "domestic",
            "estrato": "1",
            "unidades": "1",
            "consumo": "30",
            "meses": "2",
            "municipio": "11001",
            "fecha": "2025-03-01",
            "agua": "on",
            "alcantarillado": "on",
        },
    )
    body = text(response)
    assert "Total del periodo $ 80.163,00" in body
    assert "subsidio −70 % → $ 16.708,00" in body
    assert "subsidio 70 %" in body
    # the tables: bands, ranges and factors
    assert "2001 m a más 11 22" in body
    assert "a la unidad de la moneda (COP 1)" in body
    assert "Bogotá D.C." in body and "estrato 1: 70 %" in body


def test_simulator_says_why_it_cannot_price(login):
    make_utility("CO")
    version = make_tariff(COLOMBIA)
    client = login("customer_service")
    response = client.get(
        f"/tarifas/{version.pk}/",
        {
            "simular": "1",
            "categoria": "domestic",
            "estrato": "2",
            "unidades": "1",
            "consumo": "30",
            "meses": "2",
            "municipio": "11001",
            "fecha": "2024-05-01",
            "agua": "on",
            "alcantarillado": "on",
        },
    )
    assert (
        "no tiene factores de subsidio/contribución para el municipio 11001 vigentes el 2024-05-01"
        in text(response)
    )
    response = client.get(
        f"/tarifas/{version.pk}/",
        {
            "simular": "1",
            "categoria": "domestic",
            "unidades": "1",
            "consumo": "30",
            "meses": "2",
            "municipio": "11001",
        },
    )
    assert "Indique el estrato (1 a 6) de un suministro residencial." in text(response)


def upload(client, path, **extra):
    data = {"archivo": SimpleUploadedFile(path.name, path.read_bytes(), "application/yaml")}
    data.update(extra)
    return client.post("/tarifas/importar/", data)


def test_import_page_imports_and_redirects(utility, login):
    client = login("billing_analyst")
    assert client.get("/tarifas/importar/").status_code == 200
    response = upload(client, SEDAPAL)
    version = TariffVersion.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/tarifas/{version.pk}/"
    assert version.imported_by is not None and version.imported_by.username == "billing_analyst"
    page = text(client.get(response["Location"]))
    assert "Tarifa importada: SEDAPAL-2015 versión 1." in page
    response = upload(client, SEDAPAL)
    assert TariffVersion.objects.count() == 1
    assert "Sin cambios" in text(client.get(response["Location"]))


def test_import_page_lists_every_error_by_key(utility, login):
    response = upload(login("billing_analyst"), BROKEN)
    assert response.status_code == 200
    body = text(response)
    assert "El archivo tiene 10 errores; no se importó nada" in body
    assert "categories.domestic.blocks[2].to debe ser mayor que 'from' (25)" in body
    assert "categories.hotel clave desconocida" in body
    assert not TariffVersion.objects.exists()


def test_import_page_dry_run_and_bad_encoding(utility, login, tmp_path):
    client = login("manager")
    body = text(upload(client, COLOMBIA, solo_validar="on"))
    assert "El archivo es válido. Se importaría como CO-EJEMPLO-2025 versión 1" in body
    assert not TariffVersion.objects.exists()
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: Tarifa año\n".encode("latin-1"))
    assert "El archivo no es texto UTF-8" in text(upload(client, latin))


def test_import_needs_manage_permission(utility, login):
    assert login("customer_service").get("/tarifas/importar/").status_code == 403
    assert upload(login("auditor", username="aud"), SEDAPAL).status_code == 403
    assert not TariffVersion.objects.exists()
