"""The shared payment path: idempotency, amount rules, reversal, reconnection note, keys."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from caudal.cadastre.models import Connection, ConnectionStatus
from caudal.collection import actions, errors
from caudal.collection.models import AmountRule, Payment, PaymentStatus, ReconnectionDue
from caudal.collection.testing import make_centre
from caudal.ledger import actions as ledger
from caudal.ledger import queries
from caudal.ledger.models import Concept, Document

pytestmark = pytest.mark.django_db


def _charge(account, amount: int, due: date, ref: str = "") -> Document:
    return ledger.do_post_charge(
        account.pk,
        kind="bill",
        lines=[(Concept.WATER, amount, "agua")],
        due_date=due,
        document_date=due - timedelta(days=20),
        posting_date=due - timedelta(days=20),
        reference=ref,
        actor="test",
    )


@pytest.fixture
def owing(account):
    today = timezone.localdate()
    _charge(account, 5_000, today - timedelta(days=40), "B1")
    _charge(account, 7_000, today + timedelta(days=5), "B2")
    return account


def test_post_exact_and_retry_returns_same_payment(owing):
    centre = make_centre()
    first = actions.do_post_centre_payment(
        centre=centre, reference=owing.number, amount=12_000, idempotency_key="k1", actor="car"
    )
    again = actions.do_post_centre_payment(
        centre=centre, reference=owing.number, amount=12_000, idempotency_key="k1", actor="car"
    )
    assert not first.replay and again.replay
    assert again.payment.pk == first.payment.pk
    assert Payment.objects.count() == 1
    assert queries.balance(owing.pk) == 0


def test_same_key_different_request_is_refused(owing):
    centre = make_centre(amount_rule=AmountRule.PARTIAL)
    actions.do_post_centre_payment(
        centre=centre, reference=owing.number, amount=1_000, idempotency_key="k", actor="car"
    )
    with pytest.raises(errors.PaymentRefused) as exc:
        actions.do_post_centre_payment(
            centre=centre, reference=owing.number, amount=2_000, idempotency_key="k", actor="car"
        )
    assert exc.value.code == errors.KEY_REUSED and exc.value.status == 409
    assert Payment.objects.count() == 1


def test_keys_are_per_centre(owing):
    a, b = (
        make_centre("A", amount_rule=AmountRule.ANY),
        make_centre("B", amount_rule=AmountRule.ANY),
    )
    actions.do_post_centre_payment(
        centre=a, reference=owing.number, amount=100, idempotency_key="x", actor="a"
    )
    actions.do_post_centre_payment(
        centre=b, reference=owing.number, amount=100, idempotency_key="x", actor="b"
    )
    assert Payment.objects.count() == 2


@pytest.mark.parametrize(
    ("rule", "amount", "code"),
    [
        (AmountRule.EXACT, 11_999, errors.WRONG_AMOUNT),
        (AmountRule.PARTIAL, 12_001, errors.WRONG_AMOUNT),
        (AmountRule.EXACT, 0, errors.WRONG_AMOUNT),
    ],
)
def test_wrong_amount_posts_nothing(owing, rule, amount, code):
    centre = make_centre(amount_rule=rule)
    before = Document.objects.count()
    with pytest.raises(errors.PaymentRefused) as exc:
        actions.do_post_centre_payment(
            centre=centre, reference=owing.number, amount=amount, actor="c"
        )
    assert exc.value.code == code and exc.value.status == 422
    assert Document.objects.count() == before and not Payment.objects.exists()


def test_unknown_reference_is_404(db, utility):
    with pytest.raises(errors.PaymentRefused) as exc:
        actions.do_post_centre_payment(centre=make_centre(), reference="999", amount=1, actor="c")
    assert exc.value.status == 404 and exc.value.code == errors.UNKNOWN_REFERENCE


def test_overpayment_stays_as_credit(owing):
    centre = make_centre(amount_rule=AmountRule.ANY)
    actions.do_post_centre_payment(centre=centre, reference=owing.number, amount=15_000, actor="c")
    assert queries.balance(owing.pk) == -3_000


def test_nothing_due_for_exact_centre(account):
    with pytest.raises(errors.PaymentRefused) as exc:
        actions.do_post_centre_payment(
            centre=make_centre(), reference=account.number, amount=100, actor="c"
        )
    assert exc.value.code == errors.NOTHING_DUE and exc.value.status == 409


def test_blocked_item_is_not_due_and_not_paid(owing):
    item = owing.open_items.filter(due_date__lt=timezone.localdate()).get()  # B1, overdue
    ledger.do_block_item(item.pk, reason="reclamo 12", actor="test")
    debt = actions.debt(owing)
    assert debt.blocked == 5_000 and debt.payable == 7_000 and debt.due == 7_000
    actions.do_post_centre_payment(
        centre=make_centre(), reference=owing.number, amount=7_000, actor="c"
    )
    item.refresh_from_db()
    assert item.open_amount == 5_000  # the disputed item is untouched


def test_reverse_same_day_reopens_debt_and_only_once(owing):
    centre = make_centre()
    posted = actions.do_post_centre_payment(
        centre=centre, reference=owing.number, amount=12_000, actor="c"
    )
    other = make_centre("OTHER")
    with pytest.raises(errors.PaymentRefused) as exc:
        actions.do_reverse_payment(posted.payment.pk, reason="error", actor="c", centre=other)
    assert exc.value.status == 404
    actions.do_reverse_payment(
        posted.payment.pk, reason="cobro duplicado", actor="c", centre=centre
    )
    assert queries.balance(owing.pk) == 12_000
    assert Payment.objects.get().status == PaymentStatus.REVERSED
    with pytest.raises(errors.PaymentRefused) as exc:
        actions.do_reverse_payment(posted.payment.pk, reason="otra vez", actor="c")
    assert exc.value.code == errors.ALREADY_REVERSED


def test_reverse_other_day_is_refused(owing):
    centre = make_centre()
    posted = actions.do_post_centre_payment(
        centre=centre, reference=owing.number, amount=12_000, actor="c"
    )
    with pytest.raises(errors.PaymentRefused) as exc:
        actions.do_reverse_payment(
            posted.payment.pk,
            reason="tarde",
            actor="c",
            today=timezone.localdate() + timedelta(days=1),
        )
    assert exc.value.code == errors.NOT_SAME_DAY


def test_clearing_cut_debt_records_reconnection_once(owing):
    Connection.objects.filter(account=owing, service="water").update(status=ConnectionStatus.CUT)
    centre = make_centre(amount_rule=AmountRule.PARTIAL)
    actions.do_post_centre_payment(centre=centre, reference=owing.number, amount=4_000, actor="c")
    assert not ReconnectionDue.objects.exists()  # 1,000 still overdue
    actions.do_post_centre_payment(centre=centre, reference=owing.number, amount=1_000, actor="c")
    actions.do_post_centre_payment(centre=centre, reference=owing.number, amount=1_000, actor="c")
    assert ReconnectionDue.objects.filter(account=owing).count() == 1


def test_api_keys_issue_authenticate_rotate_revoke(db):
    centre = make_centre()
    key, raw = actions.do_issue_key(centre, label="sistema", actor="admin")
    first = actions.authenticate(raw)
    assert first is not None and first.centre == centre
    assert actions.authenticate(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert actions.authenticate("garbage") is None
    new, new_raw = actions.do_rotate_key(key, actor="admin")
    assert actions.authenticate(raw) is None
    found = actions.authenticate(new_raw)
    assert found is not None and found.pk == new.pk
    actions.do_revoke_key(new, actor="admin")
    assert actions.authenticate(new_raw) is None


def test_close_day_freezes_payments_and_computes_commission(owing):
    from caudal.collection.settlement import do_close_day, do_register_deposit

    centre = make_centre(amount_rule=AmountRule.ANY, fixed=50, rate="0.01", minimum=80)
    ok = actions.do_post_centre_payment(
        centre=centre, reference=owing.number, amount=10_000, actor="c"
    )
    gone = actions.do_post_centre_payment(
        centre=centre, reference=owing.number, amount=1_000, actor="c"
    )
    actions.do_reverse_payment(gone.payment.pk, reason="error de digitación", actor="c")
    today = timezone.localdate()
    settlement = do_close_day(centre, today, actor="c")
    # 10,000 → 50 + 100 = 150; the reversed payment earns nothing.
    assert (settlement.payments, settlement.collected, settlement.reversals) == (1, 10_000, 1)
    assert settlement.commission == 150 and settlement.expected_deposit == 10_000
    with pytest.raises(errors.PaymentRefused) as exc:
        actions.do_reverse_payment(ok.payment.pk, reason="tarde", actor="c")
    assert exc.value.code == errors.DAY_CLOSED
    with pytest.raises(errors.PaymentRefused):
        do_close_day(centre, today, actor="c")
    # A payment posted after the close belongs to no settlement (the reports flag it).
    late = actions.do_post_centre_payment(
        centre=centre, reference=owing.number, amount=500, actor="c"
    )
    assert late.payment.settlement_id is None
    settled = do_register_deposit(
        settlement, amount=9_900, deposited_at=settlement.deposit_due_at, actor="sup"
    )
    assert settled.status == "difference"
