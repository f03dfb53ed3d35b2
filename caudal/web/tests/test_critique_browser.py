"""The critique page in a real Chromium: filter by flag, decide in place through htmx.

Run with ``pytest -m browser``; screenshots in ``/tmp/caudal-shots/`` (``$CAUDAL_SHOTS``).
"""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group, User

from caudal.audit.roles import ensure_roles
from caudal.cadastre.models import Segment
from caudal.cadastre.testing import make_utility
from caudal.metering.models import Reading
from caudal.metering.runs import run_critique
from caudal.metering.tests.critique_builders import PERIOD, history, metered_account, read

from .conftest import PASSWORD
from .test_browser import CHROMIUM, browser, page, shot, sign_in

# fixtures shared with the other browser tests
__all__ = ["browser", "page"]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed"),
]


@pytest.fixture
def critiqued(transactional_db):  # type: ignore[no-untyped-def]
    ensure_roles()
    make_utility()
    accounts = {}
    for key, number, delta, extra in [
        ("normal", "50000001", 21, {}),
        ("high", "50000002", 95, {}),
        ("below", "50000003", -7, {}),
        ("vip", "50000004", 22, {"segment": Segment.VIP}),
        ("missing", "50000005", None, {}),
    ]:
        acc = metered_account(number, **extra)  # type: ignore[arg-type]
        last = history(acc, [18, 20, 22, 20, 18, 22])
        if delta is not None:
            read(acc, last + delta)
        accounts[key] = acc
    run_critique(PERIOD, actor="critica")
    user = User.objects.create_user(
        "analista", password=PASSWORD, first_name="Milagros", last_name="Ccahua"
    )
    user.groups.add(Group.objects.get(name="billing_analyst"))
    return accounts


def test_filter_accept_and_correct_in_place(page, critiqued):  # type: ignore[no-untyped-def]
    sign_in(page, "analista")
    page.goto(f"/lecturas/critica/?periodo={PERIOD}")
    assert "Crítica de lectura" in page.locator("h1").inner_text()
    rows = page.locator("[data-testid=reading-row]")
    assert rows.count() == 5
    shot(page, "critique-01-page", full_page=True)

    # Filter by the high-consumption flag from the flags table.
    page.locator("tr[data-flag=high_consumption] a").click()
    page.wait_for_url("**anomalia=high_consumption**")
    assert rows.count() == 1
    high = critiqued["high"].number
    row = page.locator(f"tr[data-account='{high}']")
    assert row.get_attribute("data-status") == "flagged"

    # Accept in place: htmx swaps the row, the page does not reload.
    url = page.url
    row.locator("[data-testid=accept]").click()
    page.wait_for_selector(f"tr[data-account='{high}'][data-status=accepted]")
    assert page.url == url
    assert "Guardado" in page.locator(f"tr[data-account='{high}']").inner_text()
    assert Reading.objects.get(account=critiqued["high"], period=PERIOD).status == "accepted"

    # Correct a reading below the previous one.
    page.goto(f"/lecturas/critica/?periodo={PERIOD}&anomalia=below_previous")
    below = critiqued["below"].number
    row = page.locator(f"tr[data-account='{below}']")
    reading = Reading.objects.get(account=critiqued["below"], period=PERIOD)
    assert reading.previous_value is not None
    row.locator("summary").click()
    form = row.locator("form[action$='/corregir/']")
    form.locator("input[name=lectura]").fill(str(reading.previous_value + 19))
    form.locator("input[name=motivo]").fill("Foto del medidor: dígito mal leído")
    shot(page, "critique-02-correct")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(f"tr[data-account='{below}'][data-status=corrected]")
    reading.refresh_from_db()
    assert (reading.consumption, reading.consumption_rule) == (19, "corrected")
    assert reading.note == "Foto del medidor: dígito mal leído"

    # The VIP queue shows what is left to validate.
    page.goto(f"/lecturas/critica/?periodo={PERIOD}&vista=vip")
    assert page.locator("[data-testid=vip-open]").inner_text() == "1"
    assert rows.count() == 1
    shot(page, "critique-03-vip")
