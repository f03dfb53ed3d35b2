"""The collection-centre API through Django's test client: every endpoint, keys, scoping,
idempotent retries, the error codes and what shows on the 360 page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from caudal.api.collection import mask_name
from caudal.audit.models import AuditEvent
from caudal.audit.roles import ensure_roles
from caudal.collection.actions import do_revoke_key
from caudal.collection.models import ApiKey, Payment, PaymentStatus
from caudal.ledger import queries
from caudal.ledger.invariants import check_all

from .conftest import HOST, Api, make_api

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- document


def test_openapi_document_and_no_docs_page(client: Client) -> None:
    doc = client.get("/api/v1/openapi.json", HTTP_HOST=HOST).json()
    assert doc["info"]["title"] == "Caudal API" and doc["info"]["version"] == "1"
    assert {
        "/api/v1/accounts/{number}/debt",
        "/api/v1/bills/{reference}/debt",
        "/api/v1/debt",
        "/api/v1/payments",
        "/api/v1/payments/{payment_id}",
        "/api/v1/payments/{payment_id}/reversal",
        "/api/v1/settlements",
        "/api/v1/settlements/{day}",
    } <= set(doc["paths"])
    post = doc["paths"]["/api/v1/payments"]["post"]
    assert {"200", "201", "401", "404", "409", "422"} <= set(post["responses"])
    assert post["parameters"][0]["name"] == "Idempotency-Key"
    assert set(doc["components"]["securitySchemes"]) == {"BearerKey", "HeaderKey"}
    # The docs page would load Swagger UI from a CDN: it is off.
    assert client.get("/api/v1/docs", HTTP_HOST=HOST).status_code == 404


# ------------------------------------------------------------------------------- keys


def test_no_key_bad_key_and_revoked_key_get_401(car: Api, owing) -> None:
    anonymous = Client().get(f"/api/v1/accounts/{owing.number}/debt", HTTP_HOST=HOST)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthorized"
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    wrong = Api(car.centre, car.key[:-2] + "xx", Client())
    assert wrong.get(f"/accounts/{owing.number}/debt").status_code == 401
    garbage = Api(car.centre, "not-a-key", Client())
    assert garbage.get(f"/accounts/{owing.number}/debt").status_code == 401
    assert car.get(f"/accounts/{owing.number}/debt").status_code == 200
    do_revoke_key(ApiKey.objects.get(centre=car.centre), actor="test")
    refused = car.pay("k1", reference=owing.number, amount=12_000)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    assert Payment.objects.count() == 0


def test_x_api_key_header_and_inactive_centre(car: Api, owing) -> None:
    path = f"/api/v1/accounts/{owing.number}/debt"
    ok = Client().get(path, headers={"X-Api-Key": car.key}, HTTP_HOST=HOST)
    assert ok.status_code == 200 and ok.json()["account"] == owing.number
    car.centre.active = False
    car.centre.save()
    assert Client().get(path, headers={"X-Api-Key": car.key}, HTTP_HOST=HOST).status_code == 401


def test_api_needs_no_session_and_no_csrf(car: Api, owing) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/payments",
        {"reference": owing.number, "amount": 12_000, "method": "cash"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {car.key}", "Idempotency-Key": "csrf-1"},
        HTTP_HOST=HOST,
    )
    assert response.status_code == 201
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies


# ------------------------------------------------------------------------------- debt


def test_mask_name() -> None:
    assert mask_name("Juan Pérez") == "JUA*** PÉR***"
    assert mask_name("  de la  Cruz ") == "DE*** LA*** CRU***"
    assert mask_name("") == ""


def test_debt_by_account_number(car: Api, owing) -> None:
    response = car.get(f"/accounts/{owing.number}/debt")
    assert response.status_code == 200
    body = response.json()
    assert body["account"] == owing.number
    assert body["holder"] == "JUA*** PÉR*** QUI***"
    assert body["currency"] == "PEN" and body["amount_rule"] == "exact"
    assert (body["due"], body["payable"], body["overdue"]) == (12_000, 12_000, 5_000)
    assert (body["blocked"], body["credit"], body["bill"]) == (0, 0, None)
    assert [(b["reference"], b["open_amount"]) for b in body["bills"]] == [
        ("9000000001", 5_000),
        ("9000000002", 7_000),
    ]
    assert body["bills"][0]["period"] == "2026-01"
    # /accounts/ takes only account numbers; /debt takes either.
    assert car.get("/accounts/9000000001/debt").json()["code"] == "unknown_reference"
    assert car.get("/debt", reference=owing.number).json()["due"] == 12_000


def test_debt_by_bill_reference(car: Api, owing) -> None:
    body = car.get("/bills/9000000002/debt").json()
    assert body["account"] == owing.number and body["bill"] == f"F-{owing.number}-2026-02"
    # The newer bill lists the older one's debt as previous debt: it asks for all of it.
    assert body["due"] == 12_000
    older = car.get("/debt", reference="9000000001").json()
    assert older["due"] == 5_000 and older["reference"] == "9000000001"
    assert car.get(f"/bills/{owing.number}/debt").status_code == 404


def test_unknown_reference_and_bad_path(car: Api, owing) -> None:
    missing = car.get("/accounts/99999999/debt")
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_reference"
    assert "99999999" in missing.json()["message"]
    bad = car.get("/debt", reference="a b")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reference"


# --------------------------------------------------------------------------- payments


def test_post_payment_then_retry_replays(car: Api, owing) -> None:
    first = car.pay(
        "pay-1", reference=owing.number, amount=12_000, external_reference="OP-77", point="P01"
    )
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["account"] == owing.number and body["amount"] == 12_000
    assert (body["applied"], body["credit"]) == (12_000, 0)
    assert body["status"] == "posted" and body["currency"] == "PEN"
    assert body["point"] == "P01" and body["external_reference"] == "OP-77"
    assert body["payment_date"] == timezone.localdate().isoformat()
    assert body["idempotency_key"] == "pay-1" and not body["settled"]
    assert "Idempotent-Replayed" not in first
    again = car.pay(
        "pay-1", reference=owing.number, amount=12_000, external_reference="OP-77", point="P01"
    )
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == body
    assert Payment.objects.count() == 1
    assert queries.balance(owing.pk) == 0
    payment = Payment.objects.get()
    assert payment.document_id == body["document"]
    prefix = ApiKey.objects.get(centre=car.centre).prefix
    labels = set(
        AuditEvent.objects.filter(action="ledger.post_payment").values_list(
            "actor_label", flat=True
        )
    )
    assert labels == {f"api:CAR01:{prefix}"}
    assert check_all() == []


def test_same_key_other_body_is_409(car: Api, owing) -> None:
    assert car.pay("k", reference=owing.number, amount=12_000).status_code == 201
    other = car.pay("k", reference=owing.number, amount=12_000, method="card")
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert Payment.objects.count() == 1


def test_refusals_have_stable_codes(car: Api, owing) -> None:
    unknown = car.pay("u", reference="12345", amount=100)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_reference")
    wrong = car.pay("w", reference=owing.number, amount=11_999)
    assert (wrong.status_code, wrong.json()["code"]) == (422, "wrong_amount")
    assert "120.00" in wrong.json()["message"]
    assert car.pay("b1", reference="9000000001", amount=5_000).status_code == 201
    paid = car.pay("b1-again", reference="9000000001", amount=5_000)
    assert (paid.status_code, paid.json()["code"]) == (409, "nothing_due")
    point = car.pay("p", reference=owing.number, amount=7_000, point="NOPE")
    assert (point.status_code, point.json()["code"]) == (422, "invalid")
    assert Payment.objects.count() == 1
    assert check_all() == []


def test_validation_errors_name_the_field(car: Api, owing) -> None:
    no_key = car.post("/payments", {"reference": owing.number, "amount": 1, "method": "cash"})
    assert no_key.status_code == 422
    assert no_key.json()["code"] == "invalid"
    assert no_key.json()["errors"][0]["field"] == "Idempotency-Key"
    long_key = car.pay("x" * 81, reference=owing.number, amount=12_000)
    assert long_key.status_code == 422
    assert long_key.json()["errors"][0]["field"] == "Idempotency-Key"
    assert car.pay("x" * 80, reference=owing.number, amount=12_000).status_code == 201
    for body, field in [
        ({"reference": owing.number, "amount": "12000"}, "amount"),
        ({"reference": owing.number, "amount": 12.5}, "amount"),
        ({"reference": owing.number, "amount": 0}, "amount"),
        ({"reference": owing.number, "amount": 10**13}, "amount"),
        ({"reference": owing.number, "amount": 1, "method": "bitcoin"}, "method"),
        ({"amount": 1}, "reference"),
        ({"reference": owing.number, "amount": 1, "ammount": 2}, "ammount"),
        (
            {"reference": owing.number, "amount": 1, "external_reference": "a\x00b"},
            "external_reference",
        ),
    ]:
        body.setdefault("method", "cash")
        response = car.post("/payments", body, {"Idempotency-Key": "v"})
        assert response.status_code == 422, body
        assert response.json()["code"] == "invalid"
        assert field in [e["field"] for e in response.json()["errors"]], response.json()
        assert field in response.json()["message"]
    not_json = car.post("/payments", "{not json", {"Idempotency-Key": "v"})
    assert (not_json.status_code, not_json.json()["code"]) == (400, "bad_request")
    assert Payment.objects.count() == 1


def test_partial_and_any_rules(bank: Api, owing) -> None:
    over = bank.pay("o", reference=owing.number, amount=15_000)
    assert over.status_code == 201
    assert (over.json()["applied"], over.json()["credit"]) == (12_000, 3_000)
    after = bank.get(f"/accounts/{owing.number}/debt").json()
    assert (after["payable"], after["credit"], after["bills"]) == (0, 3_000, [])


# ------------------------------------------------------------------- reading payments


def test_get_and_list_payments_are_scoped_to_the_centre(car: Api, bank: Api, owing) -> None:
    mine = car.pay("a", reference="9000000001", amount=5_000).json()
    theirs = bank.pay("a", reference=owing.number, amount=1_000).json()
    assert mine["id"] != theirs["id"]
    assert car.get(f"/payments/{mine['id']}").json() == mine
    hidden = car.get(f"/payments/{theirs['id']}")
    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")
    listed = car.get("/payments", date=timezone.localdate().isoformat()).json()
    assert listed["count"] == 1 and [p["id"] for p in listed["items"]] == [mine["id"]]
    assert listed["next_after"] is None
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert car.get("/payments", date=yesterday).json()["count"] == 0
    reversal = car.post(f"/payments/{theirs['id']}/reversal", {"reason": "no es mío"})
    assert reversal.status_code == 404
    assert Payment.objects.get(pk=theirs["id"]).status == PaymentStatus.POSTED


def test_list_pages_with_after(bank: Api, owing) -> None:
    ids = [bank.pay(f"k{i}", reference=owing.number, amount=100 + i).json()["id"] for i in range(5)]
    first = bank.get("/payments", limit=2).json()
    assert first["count"] == 5 and [p["id"] for p in first["items"]] == ids[:2]
    second = bank.get("/payments", limit=2, after=first["next_after"]).json()
    assert [p["id"] for p in second["items"]] == ids[2:4]
    last = bank.get("/payments", limit=2, after=second["next_after"]).json()
    assert [p["id"] for p in last["items"]] == ids[4:] and last["next_after"] is None
    assert bank.get("/payments", limit=0).status_code == 422
    assert bank.get("/payments", date="2026-13-01").json()["errors"][0]["field"] == "date"


# -------------------------------------------------------------------------- reversal


def test_reversal_same_day(car: Api, owing) -> None:
    paid = car.pay("r", reference=owing.number, amount=12_000).json()
    assert queries.balance(owing.pk) == 0
    no_reason = car.post(f"/payments/{paid['id']}/reversal", {"reason": ""})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    reversed_ = car.post(f"/payments/{paid['id']}/reversal", {"reason": "cobro duplicado"})
    assert reversed_.status_code == 200
    body = reversed_.json()
    assert body["status"] == "reversed" and body["reversal_document"] is not None
    assert queries.balance(owing.pk) == 12_000
    twice = car.post(f"/payments/{paid['id']}/reversal", {"reason": "otra vez"})
    assert (twice.status_code, twice.json()["code"]) == (409, "already_reversed")
    missing = car.post("/payments/999999/reversal", {"reason": "x"})
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    # A retry of the original post after the reversal answers with the payment as it is now.
    replay = car.pay("r", reference=owing.number, amount=12_000)
    assert replay.status_code == 200 and replay.json()["status"] == "reversed"
    assert Payment.objects.count() == 1
    assert check_all() == []


def test_reversal_of_an_earlier_day_is_refused(car: Api, owing) -> None:
    paid = car.pay("old", reference=owing.number, amount=12_000).json()
    Payment.objects.filter(pk=paid["id"]).update(
        payment_date=timezone.localdate() - timedelta(days=1)
    )
    refused = car.post(f"/payments/{paid['id']}/reversal", {"reason": "tarde"})
    assert (refused.status_code, refused.json()["code"]) == (409, "not_same_day")


# ------------------------------------------------------------------------- settlement


def test_close_day_and_read_it(car: Api, owing) -> None:
    today = timezone.localdate().isoformat()
    paid = car.pay("s1", reference="9000000001", amount=5_000).json()
    gone = car.pay("s2", reference="9000000002", amount=7_000).json()
    car.post(f"/payments/{gone['id']}/reversal", {"reason": "error"})
    assert car.get(f"/settlements/{today}").json()["code"] == "not_found"
    closed = car.post("/settlements", {"date": today})
    assert closed.status_code == 201, closed.content
    body = closed.json()
    assert (body["payments"], body["collected"]) == (1, 5_000)
    assert (body["reversals"], body["reversed_amount"]) == (1, 7_000)
    assert body["expected_deposit"] == 5_000 and body["status"] == "closed"
    assert body["centre"] == "CAR01" and body["currency"] == "PEN"
    assert car.get(f"/settlements/{today}").json() == body
    again = car.post("/settlements", {"date": today})
    assert (again.status_code, again.json()["code"]) == (409, "day_closed")
    late = car.post(f"/payments/{paid['id']}/reversal", {"reason": "tarde"})
    assert (late.status_code, late.json()["code"]) == (409, "day_closed")
    assert car.get(f"/payments/{paid['id']}").json()["settled"] is True
    future = (timezone.localdate() + timedelta(days=1)).isoformat()
    ahead = car.post("/settlements", {"date": future})
    assert (ahead.status_code, ahead.json()["code"]) == (422, "invalid")


def test_settlements_are_per_centre(car: Api, bank: Api, owing) -> None:
    today = timezone.localdate().isoformat()
    bank.pay("b", reference=owing.number, amount=1_000)
    assert car.post("/settlements", {"date": today}).json()["payments"] == 0
    assert bank.get(f"/settlements/{today}").status_code == 404
    assert bank.post("/settlements", {"date": today}).json()["collected"] == 1_000


# ------------------------------------------------------------------------- 360 page


def test_payment_shows_on_the_360_page_at_once(car: Api, owing) -> None:
    ensure_roles()
    user = User.objects.create_user("agente", password="x-clave-larga-123")
    user.groups.add(Group.objects.get(name="customer_service"))
    office = Client()
    office.force_login(user)
    paid = car.pay("page-1", reference=owing.number, amount=12_000).json()
    page = office.get(f"/suministros/{owing.number}/", HTTP_HOST=HOST)
    assert page.status_code == 200
    html = page.content.decode()
    assert "CAR01:page-1" in html  # the payment document's reference, as last payment
    assert "120.00" in html
    assert paid["document"]


def test_two_keys_of_one_centre_share_its_payments(car: Api, owing) -> None:
    other = make_api("CAR02")
    second = Api(car.centre, "", Client())
    from caudal.collection.actions import do_issue_key

    _k, second.key = do_issue_key(car.centre, label="second", actor="test")
    paid = car.pay("x", reference=owing.number, amount=12_000).json()
    assert second.get(f"/payments/{paid['id']}").status_code == 200
    assert other.get(f"/payments/{paid['id']}").status_code == 404
