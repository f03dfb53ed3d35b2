"""The cartera home (/cartera/), a snapshot's page and its files: permissions, the take
form, totals by stage and bucket from cube.parquet, downloads limited to the manifest."""

from __future__ import annotations

import io
from datetime import date

import polars as pl
import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from caudal.audit.roles import ensure_roles
from caudal.cadastre.testing import make_account, make_utility
from caudal.ledger.actions import do_post_charge
from caudal.portfolio import schema
from caudal.portfolio.models import Snapshot
from caudal.portfolio.snapshot import folder_for, take_snapshot

from .test_snapshot import _snapshot_dir  # noqa: F401 (fixture: folder, policies, teardown)

pytestmark = pytest.mark.django_db(transaction=True)

D = date(2026, 3, 31)


def client_for(role: str) -> Client:
    ensure_roles()
    user = User.objects.create_user(username=role, password="x")
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owing():
    make_utility("PE")
    for amount, due in ((5_000, date(2026, 3, 20)), (7_000, date(2025, 6, 20))):
        do_post_charge(
            make_account(),
            kind="bill",
            lines=[("water", amount, "Agua")],
            document_date=date(2025, 6, 1),
            due_date=due,
            actor="t",
        )


def test_take_from_the_page_and_see_it(owing):
    client = client_for("cartera_analyst")
    home = client.get(reverse("cartera-home"))
    assert home.status_code == 200
    assert b"Tomar corte" in home.content
    answer = client.post(reverse("cartera-home"), {"date": D.isoformat(), "kind": ""})
    assert answer.status_code == 302
    assert answer["Location"] == reverse("snapshot-detail", args=[D.isoformat()])
    snap = Snapshot.objects.get(date=D)
    assert snap.kind == "monthly" and snap.taken_by is not None
    page = client.get(answer["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-stage="current"' in text and 'data-stage="prejudicial"' in text
    assert 'data-bucket="1-30"' in text and 'data-bucket="181-360"' in text
    assert "items.parquet" in text and "manifest.json" in text
    listing = client.get(reverse("cartera-home")).content.decode()
    assert f'data-date="{D.isoformat()}"' in listing


def test_take_errors_are_shown(owing):
    client = client_for("cartera_analyst")
    bad = client.post(reverse("cartera-home"), {"date": "2026-02-31"})
    assert bad.status_code == 400 and "no válida" in bad.content.decode()
    future = client.post(reverse("cartera-home"), {"date": "2999-01-01"})
    assert future.status_code == 400 and "futura" in future.content.decode()
    assert not Snapshot.objects.exists()


def test_viewers_cannot_take(owing):
    client = client_for("auditor")
    page = client.get(reverse("cartera-home"))
    assert page.status_code == 200 and b"Tomar corte" not in page.content
    assert client.post(reverse("cartera-home"), {"date": D.isoformat()}).status_code == 403
    assert client_for("cashier").get(reverse("cartera-home")).status_code == 403


def test_files_only_from_the_manifest(owing):
    take_snapshot(D, actor="t")
    client = client_for("auditor")
    url = reverse("snapshot-file", args=[D.isoformat(), schema.ITEMS])
    answer = client.get(url)
    assert answer.status_code == 200
    body = b"".join(answer.streaming_content)  # type: ignore[attr-defined]
    assert pl.read_parquet(io.BytesIO(body)).height == 2
    (folder_for(D) / "secret.txt").write_text("no")
    for name in ("secret.txt", schema.MANIFEST, "..%2Fx"):
        assert client.get(reverse("snapshot-file", args=[D.isoformat(), name])).status_code == 404
    assert client.get(reverse("snapshot-detail", args=["2026-13-01"])).status_code == 404
    assert client.get(reverse("snapshot-detail", args=["2026-01-01"])).status_code == 404
