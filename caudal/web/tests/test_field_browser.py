"""The readers' mobile page in a real Chromium on a 360 px phone screen: a reading sent
online, another taken offline (queued in IndexedDB, the page reloaded from the service
worker's cache), both in the database exactly once after the connection comes back.

Run with ``pytest -m browser``. ``CAUDAL_UPDATE_DOCS_IMG=1`` also saves the screenshot as
``docs/img/reading-mobile.png``.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from caudal.audit.roles import ensure_roles
from caudal.cadastre.models import Route, UtilitySettings
from caudal.metering.models import Reading
from caudal.metering.tests.field_fixtures import (
    current_period,
    open_calendar,
    route_with_accounts,
)

from .test_browser import CHROMIUM, browser, make_staff, shot, sign_in

# fixtures shared with the other browser tests
__all__ = ["browser"]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

DOCS_IMG = Path(settings.BASE_DIR) / "docs" / "img" / "reading-mobile.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed"),
]


@pytest.fixture
def phone(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        viewport={"width": 360, "height": 760},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="es-PE",
        base_url=live_server.url,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield context, page
    context.close()


@pytest.fixture
def field_data(transactional_db):  # type: ignore[no-untyped-def]
    ensure_roles()
    UtilitySettings.objects.update_or_create(
        pk=1,
        defaults={
            "name": "EPS Valle del Mantaro S.A.",
            "short_name": "EPS Mantaro",
            "country": "PE",
            "currency": "PEN",
            "tax_id": "20130098488",
        },
    )
    route, accounts = route_with_accounts(4)
    Route.objects.filter(pk=route.pk).update(name="Huancavelica norte")
    for account, (name, address) in zip(
        accounts,
        [
            ("Rosa Elvira Quispe Mamani", "Av. Huancavelica 1452"),
            ("José Antonio Huamán Ccori", "Av. Huancavelica 1460"),
            ("Bodega Santa Rosa E.I.R.L.", "Av. Huancavelica 1478"),
            ("María Luz Poma Ticona", "Jr. Ica 310"),
        ],
        strict=True,
    ):
        account.customer.name = name
        account.customer.save()
        account.property.address = address
        account.property.save()
    open_calendar(route.cycle)
    make_staff("lector1", "field_worker", "Luis", "Mamani")
    return accounts


def wait_for_rows(page, count: int, seconds: float = 10) -> None:  # type: ignore[no-untyped-def]
    """Poll the database (the page syncs in the background) until ``count`` rows exist."""
    for _ in range(int(seconds * 10)):
        if len(current_readings()) >= count:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"expected {count} readings, found {len(current_readings())}")


def current_readings() -> list[Reading]:
    return list(
        Reading.objects.filter(period=current_period().code).select_related("account", "reader")
    )


def test_read_online_then_offline_then_sync(phone, field_data):  # type: ignore[no-untyped-def]
    context, page = phone
    accounts = field_data
    sign_in(page, "lector1")
    page.wait_for_url("**/")
    page.goto("/lecturas/campo/")
    route = page.locator("button.route[data-route='R01']")
    route.wait_for()
    assert "3" not in page.locator("#queue-count").inner_text()
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null")

    route.click()
    page.locator("#acc-number").wait_for()
    assert page.locator("#acc-number").inner_text() == accounts[0].number
    assert page.locator("#acc-previous").inner_text() == "1060"
    assert page.locator("#acc-expected").inner_text() == "1070 – 1100"
    # the page fits the phone: no horizontal scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    # a value below the previous reading asks for confirmation first
    page.fill("#value", "1050")
    page.click("#save")
    assert "menor que la anterior" in page.locator("#form-message").inner_text()
    assert page.locator("#save").inner_text() == "Confirmar y guardar"
    page.fill("#value", "1082")
    page.click("#save")
    wait_for_rows(page, 1)
    page.wait_for_function("document.getElementById('queue-count').textContent === '0'")
    page.wait_for_function(
        f"document.getElementById('acc-number').textContent === '{accounts[1].number}'"
    )
    rows = current_readings()
    assert [(r.account.number, r.value) for r in rows] == [(accounts[0].number, 1082)]
    assert rows[0].reader is not None and rows[0].reader.username == "lector1"
    assert rows[0].source == "handheld"

    # offline: the reading is queued on the phone
    context.set_offline(True)
    # Chromium's offline emulation does not always hold for a page served by the service
    # worker after a reload; refuse the sync endpoint too, as a dead network would.
    context.route(
        "**/lecturas/campo/sincronizar/", lambda route: route.abort("internetdisconnected")
    )
    page.wait_for_function("document.getElementById('net').dataset.state === 'offline'")
    page.fill("#value", "1091")
    page.select_option("#observation", "leak")
    page.click("#save")
    page.wait_for_function("document.getElementById('queue-count').textContent === '1'")
    assert "Guardada en el equipo" in page.locator("#banner").inner_text()
    assert len(current_readings()) == 1

    # still offline, the page reloads from the service worker's cache with its queue and
    # reopens the route (kept in IndexedDB) at the next account to read
    page.reload()
    page.locator("#acc-number").wait_for()
    assert page.locator("#queue-count").inner_text() == "1"
    assert page.locator("#net").inner_text() == "Sin conexión"
    assert page.locator("#acc-number").inner_text() == accounts[2].number
    page.fill("#value", "1")  # something typed on the third account, not saved
    path = shot(page, "20-reading-mobile")
    if os.environ.get("CAUDAL_UPDATE_DOCS_IMG") == "1":
        DOCS_IMG.parent.mkdir(parents=True, exist_ok=True)
        DOCS_IMG.write_bytes(path.read_bytes())
    assert len(current_readings()) == 1

    # back online: the queue is sent on the "online" event
    context.unroute("**/lecturas/campo/sincronizar/")
    context.set_offline(False)
    # The "online" event sends the queue at once; when Chromium's emulation misses that
    # event (seen in CI), the page's periodic retry (every 30 s) sends it.
    wait_for_rows(page, 2, seconds=40)
    page.wait_for_function("document.getElementById('queue-count').textContent === '0'")
    rows = sorted(current_readings(), key=lambda r: r.account.number)
    assert [(r.account.number, r.value, r.observation) for r in rows] == [
        (accounts[0].number, 1082, ""),
        (accounts[1].number, 1091, "leak"),
    ]
    assert len({r.client_uuid for r in rows}) == 2
    assert all(r.read_at and r.read_at <= timezone.now() for r in rows)
    # a reload sends nothing again
    page.reload()
    page.locator("#acc-number").wait_for()
    page.wait_for_timeout(500)
    assert len(current_readings()) == 2
    # the route was reopened from the address: Back shows the routes, staying on the page
    page.click("#back")
    page.locator("button.route[data-route='R01']").wait_for()
    assert page.url.endswith("/lecturas/campo/")


def test_progress_page_refreshes_itself_and_calendar(browser, live_server, field_data):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import User

    from caudal.metering.calendar_actions import do_generate_calendar
    from caudal.metering.capture import do_sync_readings

    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="es-PE", base_url=live_server.url
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        make_staff("super1", "field_supervisor", "Carmen", "Rojas")
        make_staff("analista1", "billing_analyst", "Pedro", "Salas")
        accounts = field_data
        sign_in(page, "super1")
        page.wait_for_url("**/")
        page.goto(f"/lecturas/avance/?periodo={current_period().code}")
        cell = page.locator("tr[data-route='R01'] [data-testid=visited]")
        assert cell.inner_text() == "0 / 4"
        do_sync_readings(
            [
                {
                    "client_uuid": "browser-progress-1",
                    "period": current_period().code,
                    "route": "R01",
                    "account": accounts[0].number,
                    "value": 1080,
                    "observation": "",
                    "read_at": timezone.now().isoformat(),
                }
            ],
            actor=User.objects.get(username="lector1"),
        )
        # htmx polls every 5 s: the table updates without a reload
        page.wait_for_function(
            "document.querySelector(\"tr[data-route='R01'] [data-testid=visited]\")"
            ".textContent.trim() === '1 / 4'",
            timeout=15_000,
        )
        assert "Luis Mamani" in page.locator("#progress-table").inner_text()
        shot(page, "21-reading-progress", full_page=True)

        page.click(".usermenu summary")
        page.click("text=Cerrar sesión")
        sign_in(page, "analista1")
        page.wait_for_url("**/")
        do_generate_calendar(year=timezone.localdate().year, actor="test")
        page.goto(f"/lecturas/calendario/?mes={current_period().code}")
        row = page.locator("tr[data-cycle='C01']").first
        row.locator("button", has_text="Editar").click()
        form = page.locator("tr.is-editing")
        form.wait_for()
        shot(page, "22-reading-calendar", full_page=True)
        critique_to = form.locator("input[name=critique_to]")
        earlier = date.fromisoformat(critique_to.input_value()) - timedelta(days=1)
        critique_to.fill(earlier.isoformat())
        form.locator("input[name=reason]").fill("paro de lectores")
        form.locator("button[type=submit]").click()
        page.locator("tr.is-saved").wait_for()
        assert "editado" in page.locator("tr.is-saved").inner_text()
    finally:
        context.close()
