"""Pure ledger rules: payment allocation, matching of credits to debits, aging, balances.

No database here (an import-linter contract forbids ``django.db`` and the models): plain
dataclasses in, plain results out, so a billing or collection run can call these per
account on data it loaded in bulk. Every function is O(n log n) at worst (one sort).

Allocation rules, in the words a cartera analyst would use:

- Only open debit items (cargos con saldo) receive money. Credit items never do.
- A blocked item (partida bloqueada por reclamo) never receives money from an allocation:
  a payment never clears a disputed item. The money left after the unblocked items stays
  as a credit (saldo a favor), applied later to the next charges or to the item once it
  is unblocked.
- ``oldest_due`` (default): by due date, then issue date, then id.
- ``by_concept``: by an ordered list of concept classes (default costs → interest →
  principal), oldest first (as above) inside each class.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

DEBIT = "D"
CREDIT = "C"

OLDEST_DUE = "oldest_due"
BY_CONCEPT = "by_concept"
POLICIES = (OLDEST_DUE, BY_CONCEPT)

COSTS = "costs"
INTEREST = "interest"
PRINCIPAL = "principal"

#: Concept (``models.Concept`` value) → allocation class. Concepts not listed are principal.
CONCEPT_CLASS: dict[str, str] = {
    "collection_cost": COSTS,
    "cut_fee": COSTS,
    "reconnection_fee": COSTS,
    "other": COSTS,
    "interest": INTEREST,
}

#: The usual legal order for applying a payment when it does not cover everything.
DEFAULT_CONCEPT_ORDER: tuple[str, ...] = (COSTS, INTEREST, PRINCIPAL)

#: Upper bounds (days past due, inclusive) of the aging buckets; one more bucket above.
DEFAULT_AGING_BOUNDS: tuple[int, ...] = (0, 30, 60, 90, 180, 360)


class RuleError(ValueError):
    """Input a rule cannot work with (unknown policy, negative amount)."""


@dataclass(frozen=True, slots=True)
class Item:
    """An open item as the rules see it. ``open_amount`` and ``amount`` are positive."""

    id: int
    side: str
    open_amount: int
    due_date: date
    issue_date: date
    concept: str = "other"
    blocked: bool = False

    @property
    def signed_open(self) -> int:
        return self.open_amount if self.side == DEBIT else -self.open_amount


@dataclass(frozen=True, slots=True)
class Allocation:
    """Where an amount went. ``parts`` are (item id, amount) in the order applied."""

    parts: tuple[tuple[int, int], ...]
    applied: int
    remainder: int
    skipped_blocked: tuple[int, ...]


class Match(NamedTuple):
    """One clearing to write: ``amount`` of ``credit_id`` applied to ``debit_id``."""

    debit_id: int
    credit_id: int
    amount: int


def concept_class(concept: str) -> str:
    return CONCEPT_CLASS.get(concept, PRINCIPAL)


def _check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise RuleError(f"unknown allocation policy {policy!r}; use one of {POLICIES}")


def order_debits(
    items: Iterable[Item],
    *,
    policy: str = OLDEST_DUE,
    concept_order: Sequence[str] | None = None,
) -> list[Item]:
    """The open, unblocked debit items in the order a payment pays them.

    For ``by_concept`` the entries of ``concept_order`` may be classes (``costs``) or
    concepts (``cut_fee``); a concept named directly wins over its class. Items whose
    concept and class are both missing from the list go last, oldest first.
    """
    _check_policy(policy)
    debits = [i for i in items if i.side == DEBIT and i.open_amount > 0 and not i.blocked]
    if policy == OLDEST_DUE:
        debits.sort(key=lambda i: (i.due_date, i.issue_date, i.id))
        return debits
    order = tuple(concept_order) if concept_order else DEFAULT_CONCEPT_ORDER
    rank = {name: pos for pos, name in reversed(list(enumerate(order)))}
    last = len(order)

    def key(i: Item) -> tuple[int, date, date, int]:
        r = rank.get(i.concept, rank.get(concept_class(i.concept), last))
        return (r, i.due_date, i.issue_date, i.id)

    debits.sort(key=key)
    return debits


def order_credits(items: Iterable[Item]) -> list[Item]:
    """Open credit items, oldest money first (issue date, then id)."""
    credits = [i for i in items if i.side == CREDIT and i.open_amount > 0]
    credits.sort(key=lambda i: (i.issue_date, i.id))
    return credits


def allocate(
    amount: int,
    items: Iterable[Item],
    *,
    policy: str = OLDEST_DUE,
    concept_order: Sequence[str] | None = None,
) -> Allocation:
    """Spread ``amount`` over the open unblocked debit items of ``items`` by ``policy``.

    Never gives an item more than its open amount; what is left is ``remainder`` (a
    credit in favour of the customer). Blocked open debits are listed in
    ``skipped_blocked``.
    """
    if amount < 0:
        raise RuleError("amount to allocate must not be negative")
    materialized = list(items)
    skipped = tuple(
        i.id for i in materialized if i.side == DEBIT and i.open_amount > 0 and i.blocked
    )
    left = amount
    parts: list[tuple[int, int]] = []
    for item in order_debits(materialized, policy=policy, concept_order=concept_order):
        if left == 0:
            break
        take = min(left, item.open_amount)
        parts.append((item.id, take))
        left -= take
    return Allocation(
        parts=tuple(parts), applied=amount - left, remainder=left, skipped_blocked=skipped
    )


def match(
    credits: Sequence[Item],
    debits: Sequence[Item],
) -> list[Match]:
    """Pair credits (in the given order) with debits (in the given order), greedily.

    Both lists are used as given (call :func:`order_credits` / :func:`order_debits`
    first); one linear pass, so the cost is O(len(credits) + len(debits)).
    """
    out: list[Match] = []
    d_left = [d.open_amount for d in debits]
    di = 0
    for credit in credits:
        c_left = credit.open_amount
        while c_left > 0 and di < len(debits):
            take = min(c_left, d_left[di])
            if take > 0:
                out.append(Match(debits[di].id, credit.id, take))
                c_left -= take
                d_left[di] -= take
            if d_left[di] == 0:
                di += 1
        if di >= len(debits):
            break
    return out


def settle(
    items: Iterable[Item],
    *,
    policy: str = OLDEST_DUE,
    concept_order: Sequence[str] | None = None,
) -> list[Match]:
    """Apply every open credit of an account to its open unblocked debits.

    Credits go oldest first; debits are paid in ``policy`` order. After the matches are
    applied, either no credit is open or no unblocked debit is.
    """
    materialized = list(items)
    return match(
        order_credits(materialized),
        order_debits(materialized, policy=policy, concept_order=concept_order),
    )


# --- aging and balances ----------------------------------------------------------------


def days_past_due(due_date: date, on: date) -> int:
    """Whole days past due on ``on``: 0 on or before the due date."""
    return max(0, (on - due_date).days)


def aging_labels(bounds: Sequence[int] = DEFAULT_AGING_BOUNDS) -> list[str]:
    """Bucket labels for ``bounds``: ``0``, ``1-30``, ``31-60``, …, ``>360``."""
    labels: list[str] = []
    low = 0
    for pos, high in enumerate(bounds):
        if pos == 0:
            labels.append(str(high) if high == 0 else f"0-{high}")
        else:
            labels.append(f"{low}-{high}")
        low = high + 1
    labels.append(f">{bounds[-1]}" if bounds else "all")
    return labels


def aging(
    items: Iterable[Item],
    on: date,
    *,
    bounds: Sequence[int] = DEFAULT_AGING_BOUNDS,
    include_blocked: bool = False,
) -> dict[str, int]:
    """Open debit amounts by days-past-due bucket (ordered as :func:`aging_labels`).

    A bucket holds the items with ``bounds[k-1] < days <= bounds[k]``; the last one holds
    everything above the last bound. Credits are not netted here: aging is about debt.
    """
    if list(bounds) != sorted(set(bounds)):
        raise RuleError("aging bounds must be strictly increasing")
    labels = aging_labels(bounds)
    totals = [0] * len(labels)
    for item in items:
        if item.side != DEBIT or item.open_amount <= 0 or (item.blocked and not include_blocked):
            continue
        totals[bisect_left(bounds, days_past_due(item.due_date, on))] += item.open_amount
    return dict(zip(labels, totals, strict=True))


def balance(items: Iterable[Item]) -> int:
    """Signed open balance: open debits minus open credits (positive = customer owes)."""
    return sum(i.signed_open for i in items)


def overdue(items: Iterable[Item], on: date, *, include_blocked: bool = False) -> int:
    """Open debit amounts due before ``on`` (credits are not subtracted)."""
    return sum(
        i.open_amount
        for i in items
        if i.side == DEBIT
        and i.open_amount > 0
        and i.due_date < on
        and (include_blocked or not i.blocked)
    )


def blocked_amount(items: Iterable[Item]) -> int:
    """Open debit amounts held by a block (excluded from dunning and cuts)."""
    return sum(i.open_amount for i in items if i.side == DEBIT and i.blocked)


def oldest_overdue_days(items: Iterable[Item], on: date, *, include_blocked: bool = False) -> int:
    """Days past due of the oldest open (unblocked) debit; 0 when nothing is overdue."""
    worst = 0
    for i in items:
        if i.side == DEBIT and i.open_amount > 0 and (include_blocked or not i.blocked):
            worst = max(worst, days_past_due(i.due_date, on))
    return worst
