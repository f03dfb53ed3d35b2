"""Payments of the same account at the same instant (PostgreSQL, real concurrent
transactions): the same key posts once and the others answer as its retry; different keys
for one ``exact`` debt post once and the others find nothing due (the debt is read under
the account's lock)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from caudal.collection import errors
from caudal.collection.actions import do_post_centre_payment
from caudal.collection.models import AmountRule, Centre, Payment
from caudal.collection.testing import make_centre

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 4


def _at_once(centre: Centre, reference: str, keys: list[str], amount: int) -> list[Any]:
    barrier = threading.Barrier(len(keys))
    results: list[Any] = [None] * len(keys)

    def post(n: int) -> None:
        barrier.wait()
        try:
            result = do_post_centre_payment(
                centre=centre,
                reference=reference,
                amount=amount,
                idempotency_key=keys[n],
                actor="race",
            )
            results[n] = (result.payment.pk, result.replay)
        except errors.PaymentRefused as exc:
            results[n] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(keys))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions of one in-memory SQLite test database lock tables")


def test_same_key_at_once_posts_once(postgres_only: None, owing: Any) -> None:
    centre = make_centre("RACE", amount_rule=AmountRule.EXACT)
    results = _at_once(centre, owing.number, ["same"] * THREADS, 12_000)
    assert len({pk for pk, _replay in results}) == 1
    assert sorted(replay for _pk, replay in results) == [False] + [True] * (THREADS - 1)
    assert Payment.objects.count() == 1


def test_one_exact_debt_paid_once(postgres_only: None, owing: Any) -> None:
    centre = make_centre("RACE", amount_rule=AmountRule.EXACT)
    results = _at_once(centre, owing.number, [f"k{n}" for n in range(THREADS)], 12_000)
    posted = [r for r in results if isinstance(r, tuple)]
    assert len(posted) == 1 and posted[0][1] is False
    assert sorted(r for r in results if not isinstance(r, tuple)) == ["nothing_due"] * (THREADS - 1)
    assert Payment.objects.count() == 1
