"""Random sequences of ledger actions over three accounts keep every invariant.

A hypothesis state machine drives charges, payments (both policies, sometimes with a
duplicate reference), reversals (sometimes of a reversal, twice, or of a written-off
bill: all refused), adjustments, blocks
and unblocks, write-offs and credit application, with a clock that moves forward and
some back-dated payments and reversals. After every step it checks
``invariants.check_all() == []``, that ``queries.balance`` equals the signed open items
and the documents' total, that no credit is left open next to a payable debit, and that
the state on a past date never changes afterwards (unless a back-dated posting reached
that date) and always agrees with ``balance_as_of``.

Each example runs inside ``transaction.atomic()`` rolled back at its end, so examples do
not leak into each other; the test itself uses the ``db`` fixture (never a flush).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from caudal.cadastre.testing import make_account
from caudal.kernel.errors import DomainError
from caudal.ledger import actions, invariants, queries
from caudal.ledger.models import Clearing, Document, DocumentKind, OpenItem, Side

N_ACCOUNTS = 3
CHARGE_CONCEPTS = [
    "water",
    "sewer",
    "fixed",
    "tax",
    "interest",
    "cut_fee",
    "collection_cost",
    "other",
]

accounts_idx = st.integers(0, N_ACCOUNTS - 1)
picks = st.integers(0, 1_000)
amounts = st.integers(1, 30_000)


def make_machine(account_ids: list[int]) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self._atomic = transaction.atomic()
            self._atomic.__enter__()
            self.today = date(2025, 1, 1)
            self.references: dict[int, set[str]] = {a: set() for a in account_ids}
            # (account, past day) -> (balance, open items) recorded once the day is over
            self.history: dict[tuple[int, date], tuple[int, list[tuple[int, int]]]] = {}

        def teardown(self) -> None:
            try:
                self.check_the_past()
            finally:
                transaction.set_rollback(True)
                self._atomic.__exit__(None, None, None)

        # --- helpers ---------------------------------------------------------------------

        def acc(self, idx: int) -> int:
            return account_ids[idx]

        def forget_from(self, account_id: int, day: date) -> None:
            """A back-dated posting rewrites the account's history from ``day`` on."""
            for key in [k for k in self.history if k[0] == account_id and k[1] >= day]:
                del self.history[key]

        def open_debits(self, account_id: int, *, blocked: bool | None = None) -> list[OpenItem]:
            qs = OpenItem.objects.filter(account_id=account_id, side=Side.DEBIT, open_amount__gt=0)
            if blocked is not None:
                qs = qs.filter(blocked=blocked)
            return list(qs.order_by("pk"))

        # --- rules -----------------------------------------------------------------------

        @initialize(
            bills=st.lists(st.lists(amounts, max_size=3), min_size=N_ACCOUNTS, max_size=N_ACCOUNTS)
        )
        def opening_bills(self, bills):
            """Start every account with a few bills, one month apart, so payments,
            reversals and write-offs have something to work on from the first step."""
            for account_id, amounts_ in zip(account_ids, bills, strict=True):
                for n, amount in enumerate(amounts_):
                    day = self.today + timedelta(days=30 * n)
                    actions.do_post_charge(
                        account_id,
                        kind="bill",
                        lines=[("water", amount, ""), ("fixed", 500, "")],
                        document_date=day,
                        due_date=day + timedelta(days=20),
                        actor="machine",
                    )
            self.today += timedelta(days=90)

        @rule(days=st.integers(1, 45))
        def advance_clock(self, days):
            self.check_the_past()
            for account_id in account_ids:
                self.history[(account_id, self.today)] = (
                    queries.balance_as_of(account_id, self.today),
                    [(i.pk, amt) for i, amt in queries.state_as_of(account_id, self.today)],
                )
            self.today += timedelta(days=days)

        @rule(
            idx=accounts_idx,
            lines=st.lists(
                st.tuples(st.sampled_from(CHARGE_CONCEPTS), amounts), min_size=1, max_size=3
            ),
            kind=st.sampled_from(["bill", "bill", "fee", "interest", "agreement", "opening"]),
            due_in=st.integers(0, 40),
        )
        def charge(self, idx, lines, kind, due_in):
            actions.do_post_charge(
                self.acc(idx),
                kind=kind,
                lines=[(c, a, "") for c, a in lines],
                document_date=self.today,
                due_date=self.today + timedelta(days=due_in),
                actor="machine",
            )

        @rule(
            idx=accounts_idx,
            amount=st.integers(1, 60_000),
            policy=st.sampled_from(["oldest_due", "by_concept"]),
            ref=st.one_of(st.just(""), st.integers(0, 5).map(lambda n: f"OP-{n}")),
        )
        def pay(self, idx, amount, policy, ref):
            account_id = self.acc(idx)
            if ref and ref in self.references[account_id]:
                with pytest.raises(DomainError):
                    actions.do_post_payment(
                        account_id,
                        amount=amount,
                        payment_date=self.today,
                        reference=ref,
                        actor=None,
                    )
                return
            actions.do_post_payment(
                account_id,
                amount=amount,
                payment_date=self.today,
                reference=ref,
                policy=policy,
                actor="machine",
            )
            if ref:
                self.references[account_id].add(ref)

        @rule(idx=accounts_idx, delta=st.integers(-1_000, 1_000))
        def pay_about_the_balance(self, idx, delta):
            """Exact and near-exact payments: the usual case at a cash desk."""
            amount = queries.balance(self.acc(idx)) + delta
            if amount > 0:
                actions.do_post_payment(
                    self.acc(idx), amount=amount, payment_date=self.today, actor="machine"
                )

        @rule(idx=accounts_idx, amount=st.integers(1, 20_000), back=st.integers(1, 120))
        def pay_back_dated(self, idx, amount, back):
            """A payment that reaches the ledger late, dated when the customer paid; it
            may predate the bills it pays (it then clears them on their issue date)."""
            paid_on = self.today - timedelta(days=back)
            actions.do_post_payment(
                self.acc(idx), amount=amount, payment_date=paid_on, actor="machine"
            )
            self.forget_from(self.acc(idx), paid_on)

        @rule(idx=accounts_idx, pick=picks, back=st.integers(0, 60))
        def reverse(self, idx, pick, back):
            docs = list(Document.objects.filter(account_id=self.acc(idx)).order_by("pk"))
            if not docs:
                return
            doc = docs[pick % len(docs)]
            written_off = Clearing.objects.filter(
                debit_item__document=doc,
                credit_item__document__kind=DocumentKind.WRITE_OFF,
                amount__gt=0,
                reset_by__isnull=True,
            ).exists()
            if (
                doc.kind == DocumentKind.REVERSAL
                or Document.objects.filter(reverses=doc).exists()
                or written_off
            ):
                with pytest.raises(DomainError):
                    actions.do_reverse_document(
                        doc, reason="r", posting_date=self.today, actor=None
                    )
                return
            on = max(doc.posting_date, self.today - timedelta(days=back))
            actions.do_reverse_document(doc, reason="Anulación", posting_date=on, actor=None)
            self.forget_from(doc.account_id, on)

        @rule(
            idx=accounts_idx,
            amount=st.integers(-30_000, 30_000).filter(bool),
            use_target=st.booleans(),
            pick=picks,
        )
        def adjust(self, idx, amount, use_target, pick):
            account_id = self.acc(idx)
            target = None
            if amount < 0 and use_target:
                debits = self.open_debits(account_id)
                target = debits[pick % len(debits)] if debits else None
            actions.do_adjust(
                account_id,
                amount=amount,
                concept="credit" if amount < 0 else "other",
                reason="Ajuste",
                target_item=target,
                posting_date=self.today,
                actor=None,
            )

        @rule(idx=accounts_idx, pick=picks, any_item=st.booleans())
        def block(self, idx, pick, any_item):
            """Block an open debit, or (``any_item``) any item: credits, closed items and
            blocked items must be refused."""
            items = (
                list(OpenItem.objects.filter(account_id=self.acc(idx)).order_by("pk"))
                if any_item
                else self.open_debits(self.acc(idx))
            )
            if not items:
                return
            item = items[pick % len(items)]
            if item.side != Side.DEBIT or item.open_amount == 0 or item.blocked:
                with pytest.raises(DomainError):
                    actions.do_block_item(item, reason="Reclamo", on=self.today, actor=None)
                return
            others = OpenItem.objects.filter(account_id=self.acc(idx)).exclude(pk=item.pk)
            before = {i.pk: (i.open_amount, i.blocked) for i in others}
            actions.do_block_item(item, reason="Reclamo", on=self.today, actor=None)
            assert {i.pk: (i.open_amount, i.blocked) for i in others.all()} == before

        @rule(idx=accounts_idx, pick=picks)
        def unblock(self, idx, pick):
            blocked = self.open_debits(self.acc(idx), blocked=True)
            if blocked:
                actions.do_unblock_item(
                    blocked[pick % len(blocked)], reason="Resuelto", on=self.today, actor=None
                )

        @rule(idx=accounts_idx, everything=st.booleans(), pick=picks)
        def write_off(self, idx, everything, pick):
            account_id = self.acc(idx)
            payable = self.open_debits(account_id, blocked=False)
            if not payable:
                with pytest.raises(DomainError):
                    actions.do_write_off(
                        account_id, reason="Castigo", posting_date=self.today, actor=None
                    )
                return
            chosen = None if everything else [payable[pick % len(payable)]]
            actions.do_write_off(
                account_id, items=chosen, reason="Castigo", posting_date=self.today, actor=None
            )

        @rule(idx=accounts_idx)
        def apply(self, idx):
            assert actions.apply_credits(self.acc(idx), on=self.today) == []

        # --- invariants ------------------------------------------------------------------

        @invariant()
        def ledger_is_sound(self):
            assert invariants.check_all() == []
            for account_id in account_ids:
                items = list(OpenItem.objects.filter(account_id=account_id))
                signed = sum(i.signed_open for i in items)
                documents = sum(
                    Document.objects.filter(account_id=account_id).values_list("amount", flat=True)
                )
                assert queries.balance(account_id) == signed == documents
                assert queries.balance_as_of(account_id, self.today) == signed
                open_credit = any(i.side == Side.CREDIT and i.open_amount for i in items)
                payable = any(
                    i.side == Side.DEBIT and i.open_amount and not i.blocked for i in items
                )
                assert not (open_credit and payable)

        def check_the_past(self):
            """Every day already over looks the same as when it ended (checked whenever
            the clock moves and at the end of the example, not after every step: cheap)."""
            for (account_id, day), (bal, state) in self.history.items():
                assert queries.balance_as_of(account_id, day) == bal
                now = queries.state_as_of(account_id, day)
                assert [(i.pk, a) for i, a in now] == state
                assert sum(a if i.side == Side.DEBIT else -a for i, a in now) == bal

    return LedgerMachine


@pytest.mark.django_db
def test_random_action_sequences_keep_the_ledger_sound(utility):
    account_ids = [make_account().pk for _ in range(N_ACCOUNTS)]
    run_state_machine_as_test(
        make_machine(account_ids),
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
