"""The tariff simulator in a real Chromium: htmx swaps the result in place.

Run with ``pytest -m browser``; screenshots go to ``/tmp/caudal-shots/``.
"""

from __future__ import annotations

import pytest

from caudal.audit.roles import ensure_roles
from caudal.cadastre.testing import make_utility
from caudal.tariffs.testing import SEDAPAL, make_tariff

from .test_browser import CHROMIUM, browser, make_staff, page, shot, sign_in

__all__ = ["browser", "page"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed"),
]


@pytest.fixture
def tariff(transactional_db):  # type: ignore[no-untyped-def]
    ensure_roles()
    make_utility("PE")
    return make_tariff(SEDAPAL)


def test_simulator_shows_lines_and_explanations(page, tariff):  # type: ignore[no-untyped-def]
    make_staff("atc1", "customer_service", "Lucía", "Paredes")
    sign_in(page, "atc1")
    page.goto(f"/tarifas/{tariff.pk}/")
    assert "SEDAPAL" in page.locator("h1").inner_text()
    page.select_option("select[name=categoria]", "domestic")
    page.fill("input[name=consumo]", "30")
    page.click("#simulator button[type=submit]")
    total = page.locator("[data-testid=simulation-total]")
    total.wait_for()
    assert total.inner_text() == "S/ 82.73"
    explanations = page.locator("[data-testid=explanations] li")
    assert explanations.count() == 8
    assert "15 m³ × S/ 1.295 por m³ = S/ 19.43" in explanations.nth(2).inner_text()
    assert "simular=1" in page.url  # htmx pushed the query: the result can be shared
    shot(page, "tariff-simulator", full_page=True)
    page.goto("/tarifas/")
    assert page.locator("[data-testid=tariff-versions] tbody tr").count() == 1
    shot(page, "tariff-list")


def test_colombian_tariff_page(page, transactional_db):  # type: ignore[no-untyped-def]
    from caudal.tariffs.testing import COLOMBIA

    ensure_roles()
    make_utility("CO")
    version = make_tariff(COLOMBIA)
    make_staff("atc2", "customer_service", "Camila", "Rojas")
    sign_in(page, "atc2")
    page.goto(f"/tarifas/{version.pk}/")
    page.select_option("select[name=estrato]", "1")
    page.fill("input[name=consumo]", "30")
    page.fill("input[name=fecha]", "2025-03-01")
    page.click("#simulator button[type=submit]")
    total = page.locator("[data-testid=simulation-total]")
    total.wait_for()
    assert total.inner_text() == "$ 80.163,00"
    assert page.locator("#factors tbody tr").count() == 4
    shot(page, "tariff-colombia", full_page=True)
