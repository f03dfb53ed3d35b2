"""Every write to the receivables ledger. Each ``do_*`` function is atomic and audited.

Conventions (see ``models.py`` for the sign convention):

- ``actor`` is keyword-only: a User, a string naming a process (``"billing-run"``), or None.
- Locks are taken in one fixed order: the cadastre ``Account`` row first
  (``select_for_update``), then that account's open items ordered by id. Every ledger
  writer of an account therefore queues behind the account lock, so checks made after it
  cannot go stale (no check-then-act). On SQLite transactions are IMMEDIATE and
  ``select_for_update`` is a no-op.
- The number of queries of an action does not grow with the number of items: one lock
  query for the account, one for its open items (partial index ``item_open_by_account``),
  ``bulk_create`` for lines, items and clearings, one hand-written CASE UPDATE for the open
  amounts, one audit event.
- ``Clearing.cleared_on`` is the posting date of the document that triggers it, but never
  earlier than the issue date of either item (a back-dated payment cannot clear a bill
  before the bill exists); a reset is never dated before the clearing it resets. So the
  state of an account on any past date can be recomputed from the clearings.
- ``OpenItem.issue_date`` is the posting date of its document.
- Credits are applied eagerly: after every action either no credit item is open or no
  unblocked debit item is (blocked items are never paid by an allocation).
- A blocked item whose open amount reaches zero (reversed, written off, credited) is
  unblocked automatically with a ``BlockEvent`` saying why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, actor_parts, record
from caudal.cadastre.models import Account
from caudal.kernel.errors import DomainError, InvariantViolation

from . import rules
from .models import (
    BlockEvent,
    Clearing,
    Concept,
    Document,
    DocumentKind,
    DocumentLine,
    OpenItem,
    Side,
)

#: Document kinds that ``do_post_charge`` accepts.
CHARGE_KINDS: frozenset[str] = frozenset(
    {
        DocumentKind.BILL,
        DocumentKind.FEE,
        DocumentKind.INTEREST,
        DocumentKind.ADJUSTMENT,
        DocumentKind.AGREEMENT,
        DocumentKind.OPENING,
    }
)
#: Concepts that only exist on the credit side.
CREDIT_ONLY_CONCEPTS: frozenset[str] = frozenset(
    {Concept.PAYMENT, Concept.CREDIT, Concept.WRITE_OFF}
)

LineSpec = tuple[str, int, str]

__all__ = [
    "CHARGE_KINDS",
    "apply_credits",
    "do_adjust",
    "do_block_item",
    "do_post_charge",
    "do_post_payment",
    "do_reverse_document",
    "do_unblock_item",
    "do_write_off",
]


# --- small helpers ---------------------------------------------------------------------


def _as_date(value: date | None, field: str) -> date:
    if value is None:
        raise DomainError(_("Falta la fecha: %(field)s.") % {"field": field})
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, date):
        raise DomainError(_("Fecha no válida en %(field)s.") % {"field": field})
    return value


def _as_amount(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(
            _("El importe debe ser un entero en céntimos, no %(value)r.") % {"value": value}
        )
    return value


def _check_concept(concept: str, *, debit: bool) -> str:
    if concept not in Concept.values:
        raise DomainError(_("Concepto desconocido: %(concept)s.") % {"concept": concept})
    if debit and concept in CREDIT_ONLY_CONCEPTS:
        raise DomainError(
            _("El concepto %(concept)s no puede usarse en un cargo.") % {"concept": concept}
        )
    return concept


def _check_policy(policy: str) -> str:
    if policy not in rules.POLICIES:
        raise DomainError(_("Política de imputación desconocida: %(policy)s.") % {"policy": policy})
    return policy


def _require_reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise DomainError(_("Indique el motivo."))
    return reason.strip()[:250]


def _account_id(account: Account | int) -> int:
    return account if isinstance(account, int) else account.pk


def _lock_account(account: Account | int) -> int:
    """Lock the cadastre account row (always the first lock of a ledger action)."""
    pk = _account_id(account)
    found = list(Account.objects.select_for_update().filter(pk=pk).values_list("pk", flat=True))
    if not found:
        raise DomainError(_("El suministro %(id)s no existe.") % {"id": pk})
    return pk


def _lock_items(
    account_id: int, *, extra_ids: Iterable[int] = (), document_id: int | None = None
) -> list[OpenItem]:
    """Lock and load the account's open items (plus some closed ones), ordered by id."""
    cond = Q(account_id=account_id, open_amount__gt=0)
    extra = list(extra_ids)
    if extra:
        cond |= Q(pk__in=extra)
    if document_id is not None:
        cond |= Q(document_id=document_id)
    return list(OpenItem.objects.select_for_update().filter(cond).order_by("pk"))


def _plain(item: OpenItem) -> rules.Item:
    return rules.Item(
        id=item.pk,
        side=item.side,
        open_amount=item.open_amount,
        due_date=item.due_date,
        issue_date=item.issue_date,
        concept=item.concept,
        blocked=item.blocked,
    )


def _duplicate_guard(account_id: int, kind: str, reference: str, exc: IntegrityError) -> None:
    """Turn the unique-reference IntegrityError into a DomainError; re-raise anything else."""
    if (
        reference
        and Document.objects.filter(account_id=account_id, kind=kind, reference=reference).exists()
    ):
        raise DomainError(
            _("Ya existe un documento %(kind)s con la referencia %(reference)s en este suministro.")
            % {"kind": DocumentKind(kind).label, "reference": reference}
        ) from exc


class _Book:
    """The locked items of one account while an action runs, and the writes it queues."""

    def __init__(self, account_id: int, items: Iterable[OpenItem], user: Any) -> None:
        self.account_id = account_id
        self.items: dict[int, OpenItem] = {i.pk: i for i in items}
        self.user = user
        self.dirty: set[int] = set()
        self.clearings: list[Clearing] = []
        self.unblocked: list[int] = []

    def add(self, items: Iterable[OpenItem]) -> None:
        for item in items:
            self.items[item.pk] = item

    def clear(
        self, debit_id: int, credit_id: int, amount: int, *, on: date, document: Document | None
    ) -> None:
        debit, credit = self.items[debit_id], self.items[credit_id]
        if debit.side != Side.DEBIT or credit.side != Side.CREDIT:
            raise InvariantViolation(f"clearing {debit_id}/{credit_id}: wrong sides")
        if not 0 < amount <= min(debit.open_amount, credit.open_amount):
            raise InvariantViolation(
                f"clearing {amount} exceeds open amounts of items {debit_id}/{credit_id}"
            )
        when = max(on, debit.issue_date, credit.issue_date)
        for item in (debit, credit):
            item.open_amount -= amount
            if item.open_amount == 0:
                item.cleared_on = when
            self.dirty.add(item.pk)
        self.clearings.append(
            Clearing(
                account_id=self.account_id,
                debit_item_id=debit_id,
                credit_item_id=credit_id,
                amount=amount,
                cleared_on=when,
                document=document,
            )
        )

    def reset(self, clearing: Clearing, *, on: date, document: Document | None) -> None:
        """Undo an active clearing with a negative row; both items re-open by its amount."""
        when = max(on, clearing.cleared_on)
        for item_id in (clearing.debit_item_id, clearing.credit_item_id):
            item = self.items[item_id]
            item.open_amount += clearing.amount
            if item.open_amount > item.amount:
                raise InvariantViolation(f"reset of clearing {clearing.pk} over-opens {item_id}")
            item.cleared_on = None
            self.dirty.add(item_id)
        self.clearings.append(
            Clearing(
                account_id=self.account_id,
                debit_item_id=clearing.debit_item_id,
                credit_item_id=clearing.credit_item_id,
                amount=-clearing.amount,
                cleared_on=when,
                document=document,
                resets=clearing,
            )
        )

    def settle(
        self,
        *,
        on: date,
        document: Document | None,
        policy: str = rules.OLDEST_DUE,
        concept_order: Sequence[str] | None = None,
    ) -> int:
        """Apply every open credit to open unblocked debits; returns the amount applied."""
        plain = [_plain(i) for i in self.items.values() if i.open_amount > 0]
        applied = 0
        for m in rules.settle(plain, policy=policy, concept_order=concept_order):
            self.clear(m.debit_id, m.credit_id, m.amount, on=on, document=document)
            applied += m.amount
        return applied

    def save(self) -> None:
        """Write the queued clearings and open amounts (constant number of queries)."""
        events: list[BlockEvent] = []
        fields = ["open_amount", "cleared_on"]
        for item_id in sorted(self.dirty):
            item = self.items[item_id]
            if item.blocked and item.open_amount == 0:
                item.blocked = False
                item.block_reason = ""
                self.unblocked.append(item_id)
                events.append(
                    BlockEvent(
                        item_id=item_id,
                        blocked=False,
                        effective_on=item.cleared_on or timezone.localdate(),
                        reason=_("Desbloqueo automático: la partida quedó compensada."),
                        created_by=self.user,
                    )
                )
        if events:
            fields += ["blocked", "block_reason"]
        if self.clearings:
            Clearing.objects.bulk_create(self.clearings)
        if self.dirty:
            _update_items([self.items[i] for i in sorted(self.dirty)], fields)
        if events:
            BlockEvent.objects.bulk_create(events)


#: SQL types of the mutable open-item columns (PostgreSQL needs them on CASE branches).
_ITEM_COLUMN_TYPES = {
    "open_amount": "bigint",
    "cleared_on": "date",
    "blocked": "boolean",
    "block_reason": "varchar",
}
_UPDATE_CHUNK = 1000


def _update_items(items: Sequence[OpenItem], fields: Sequence[str]) -> None:
    """``UPDATE ... SET col = CASE id WHEN .. THEN .. END ... WHERE id IN (..)``.

    What ``bulk_update`` does, without building an ORM expression per item and field
    (that was most of the time of a payment). Only the columns the immutability triggers
    allow are ever written here. One statement per 1 000 items.
    """
    ops = connection.ops
    table = ops.quote_name(OpenItem._meta.db_table)
    pg = connection.vendor == "postgresql"
    for start in range(0, len(items), _UPDATE_CHUNK):
        chunk = items[start : start + _UPDATE_CHUNK]
        sets: list[str] = []
        params: list[Any] = []
        for field in fields:
            value = f"CAST(%s AS {_ITEM_COLUMN_TYPES[field]})" if pg else "%s"
            sets.append(
                f"{ops.quote_name(field)} = CASE {ops.quote_name('id')} "
                + " ".join(f"WHEN %s THEN {value}" for _ in chunk)
                + " END"
            )
            for item in chunk:
                raw = getattr(item, field)
                if field == "cleared_on":
                    raw = ops.adapt_datefield_value(raw)
                params += [item.pk, raw]
        marks = ", ".join(["%s"] * len(chunk))
        params += [item.pk for item in chunk]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {', '.join(sets)} WHERE {ops.quote_name('id')} IN ({marks})",
                params,
            )


def _write_document(
    *,
    account_id: int,
    kind: str,
    lines: Sequence[tuple[str, int, str, date]],
    document_date: date,
    posting_date: date,
    reference: str = "",
    reason: str = "",
    source: str = "",
    user: Any = None,
    reverses: Document | None = None,
) -> tuple[Document, list[OpenItem]]:
    """Insert a document, its lines and one open item per line. Lines: signed amounts."""
    document = Document.objects.create(
        account_id=account_id,
        kind=kind,
        reference=reference,
        document_date=document_date,
        posting_date=posting_date,
        amount=sum(amount for _c, amount, _d, _due in lines),
        reverses=reverses,
        reason=reason[:250],
        source=source[:64],
        created_by=user,
    )
    line_rows = DocumentLine.objects.bulk_create(
        [
            DocumentLine(
                document=document,
                line_no=n,
                concept=concept,
                amount=amount,
                description=description[:200],
            )
            for n, (concept, amount, description, _due) in enumerate(lines, start=1)
        ]
    )
    items = OpenItem.objects.bulk_create(
        [
            OpenItem(
                account_id=account_id,
                document=document,
                line=line,
                concept=line.concept,
                side=Side.DEBIT if line.amount > 0 else Side.CREDIT,
                issue_date=posting_date,
                due_date=due,
                amount=abs(line.amount),
                open_amount=abs(line.amount),
            )
            for line, (_c, _a, _d, due) in zip(line_rows, lines, strict=True)
        ]
    )
    return document, items


def _doc_summary(document: Document) -> dict[str, Any]:
    return {
        "document": document.pk,
        "kind": document.kind,
        "reference": document.reference,
        "amount": document.amount,
        "posting_date": document.posting_date.isoformat(),
    }


# --- actions ---------------------------------------------------------------------------


def do_post_charge(
    account: Account | int,
    *,
    kind: str,
    lines: Sequence[LineSpec],
    document_date: date,
    posting_date: date | None = None,
    due_date: date,
    reference: str = "",
    reason: str = "",
    source: str = "",
    actor: ActorLike,
) -> Document:
    """Post a charge (bill, fee, interest, debit adjustment, agreement, opening balance).

    ``lines`` are ``(concept, amount_minor, description)`` with positive amounts; each line
    becomes a debit open item due on ``due_date``. Open credits of the account (an earlier
    overpayment) are then applied, oldest due first.
    """
    if kind not in CHARGE_KINDS:
        raise DomainError(_("Tipo de cargo no válido: %(kind)s.") % {"kind": kind})
    if not lines:
        raise DomainError(_("Un cargo necesita al menos una línea."))
    doc_date = _as_date(document_date, "document_date")
    posting = _as_date(posting_date, "posting_date") if posting_date else doc_date
    due = _as_date(due_date, "due_date")
    specs: list[tuple[str, int, str, date]] = []
    for concept, amount, description in lines:
        _check_concept(concept, debit=True)
        if _as_amount(amount) <= 0:
            raise DomainError(_("Los importes de un cargo deben ser positivos."))
        specs.append((concept, amount, description or "", due))
    user, _label = actor_parts(actor)
    account_id = _account_id(account)
    try:
        with transaction.atomic():
            _lock_account(account_id)
            book = _Book(account_id, _lock_items(account_id), user)
            document, items = _write_document(
                account_id=account_id,
                kind=kind,
                lines=specs,
                document_date=doc_date,
                posting_date=posting,
                reference=reference,
                reason=reason,
                source=source,
                user=user,
            )
            book.add(items)
            applied = book.settle(on=posting, document=document)
            book.save()
            record(
                actor=actor,
                action="ledger.post_charge",
                object_type="ledger.document",
                object_id=document.pk,
                account_id=account_id,
                after={**_doc_summary(document), "credit_applied": applied},
                reason=reason,
            )
            return document
    except IntegrityError as exc:
        _duplicate_guard(account_id, kind, reference, exc)
        raise


def do_post_payment(
    account: Account | int,
    *,
    amount: int,
    payment_date: date,
    reference: str = "",
    policy: str = rules.OLDEST_DUE,
    concept_order: Sequence[str] | None = None,
    source: str = "",
    actor: ActorLike,
) -> Document:
    """Post a payment and apply it to open debits by ``policy``; the rest stays as credit.

    A blocked (disputed) item is never paid. A second payment with the same non-empty
    ``reference`` on the same account is refused.
    """
    if _as_amount(amount) <= 0:
        raise DomainError(_("El importe del pago debe ser positivo."))
    _check_policy(policy)
    paid_on = _as_date(payment_date, "payment_date")
    user, _label = actor_parts(actor)
    account_id = _account_id(account)
    try:
        with transaction.atomic():
            _lock_account(account_id)
            book = _Book(account_id, _lock_items(account_id), user)
            document, items = _write_document(
                account_id=account_id,
                kind=DocumentKind.PAYMENT,
                lines=[(Concept.PAYMENT, -amount, reference, paid_on)],
                document_date=paid_on,
                posting_date=paid_on,
                reference=reference,
                source=source,
                user=user,
            )
            book.add(items)
            applied = book.settle(
                on=paid_on, document=document, policy=policy, concept_order=concept_order
            )
            book.save()
            record(
                actor=actor,
                action="ledger.post_payment",
                object_type="ledger.document",
                object_id=document.pk,
                account_id=account_id,
                after={
                    **_doc_summary(document),
                    "policy": policy,
                    "applied": applied,
                    "unapplied": items[0].open_amount,
                },
            )
            return document
    except IntegrityError as exc:
        _duplicate_guard(account_id, DocumentKind.PAYMENT, reference, exc)
        raise


def do_reverse_document(
    document: Document | int,
    *,
    reason: str,
    posting_date: date | None = None,
    actor: ActorLike,
) -> Document:
    """Reverse (anular) a posted document with a new REVERSAL document.

    Every active clearing that touches the original's items is reset first (so a reversed
    payment re-opens the bills it paid, and a reversed bill frees the credit that paid it);
    then each original item is cleared against its mirror item. Freed credits are applied
    again to the other open debits. A document is reversed at most once, and a reversal
    cannot itself be reversed: post a new document instead. A document with written-off
    items is refused until the write-off is reversed (a freed write-off would forgive
    some other debt).
    """
    why = _require_reason(reason)
    doc_id = document if isinstance(document, int) else document.pk
    original = Document.objects.filter(pk=doc_id).first()
    if original is None:
        raise DomainError(_("El documento %(id)s no existe.") % {"id": doc_id})
    if original.kind == DocumentKind.REVERSAL:
        raise DomainError(_("Una reversión no se puede revertir; registre un nuevo documento."))
    posting = _as_date(posting_date, "posting_date") if posting_date else timezone.localdate()
    if posting < original.posting_date:
        raise DomainError(
            _("La reversión no puede ser anterior al documento (%(date)s).")
            % {"date": original.posting_date.isoformat()}
        )
    user, _label = actor_parts(actor)
    account_id = original.account_id
    with transaction.atomic():
        _lock_account(account_id)
        if Document.objects.filter(reverses_id=original.pk).exists():
            raise DomainError(_("El documento %(id)s ya fue revertido.") % {"id": original.pk})
        lines = list(original.lines.order_by("line_no"))
        own_ids = list(
            OpenItem.objects.filter(document_id=original.pk).values_list("pk", flat=True)
        )
        # Two indexable IN lists (FK indexes), not a join: no scan of the clearing table.
        active = list(
            Clearing.objects.filter(
                Q(debit_item_id__in=own_ids) | Q(credit_item_id__in=own_ids),
                amount__gt=0,
                reset_by__isnull=True,
            ).order_by("pk")
        )
        counterpart_ids = {c.debit_item_id for c in active} | {c.credit_item_id for c in active}
        counterpart_ids -= set(own_ids)
        if original.kind != DocumentKind.WRITE_OFF and counterpart_ids:
            # A write-off forgives one item; freed, it would forgive another one instead.
            write_off = (
                OpenItem.objects.filter(
                    pk__in=counterpart_ids, document__kind=DocumentKind.WRITE_OFF
                )
                .values_list("document_id", flat=True)
                .first()
            )
            if write_off is not None:
                raise DomainError(
                    _("El documento tiene partidas castigadas: revierta primero el castigo %(id)s.")
                    % {"id": write_off}
                )
        book = _Book(
            account_id,
            _lock_items(account_id, extra_ids=counterpart_ids, document_id=original.pk),
            user,
        )
        by_line = {i.line_id: i for i in book.items.values() if i.document_id == original.pk}
        reversal, mirrors = _write_document(
            account_id=account_id,
            kind=DocumentKind.REVERSAL,
            lines=[
                (ln.concept, -ln.amount, ln.description, by_line[ln.pk].due_date) for ln in lines
            ],
            document_date=posting,
            posting_date=posting,
            reason=why,
            user=user,
            reverses=original,
        )
        book.add(mirrors)
        for clearing in active:
            book.reset(clearing, on=posting, document=reversal)
        for line, mirror in zip(lines, mirrors, strict=True):
            item = by_line[line.pk]
            if item.open_amount != item.amount:
                raise InvariantViolation(f"item {item.pk} not fully open after resets")
            if item.side == Side.DEBIT:
                book.clear(item.pk, mirror.pk, item.amount, on=posting, document=reversal)
            else:
                book.clear(mirror.pk, item.pk, item.amount, on=posting, document=reversal)
        reapplied = book.settle(on=posting, document=reversal)
        book.save()
        record(
            actor=actor,
            action="ledger.reverse_document",
            object_type="ledger.document",
            object_id=original.pk,
            account_id=account_id,
            before=_doc_summary(original),
            after={
                **_doc_summary(reversal),
                "reset_clearings": len(active),
                "reapplied": reapplied,
                "unblocked": book.unblocked,
            },
            reason=why,
        )
        return reversal


def do_adjust(
    account: Account | int,
    *,
    amount: int,
    concept: str,
    reason: str,
    target_item: OpenItem | int | None = None,
    posting_date: date,
    due_date: date | None = None,
    actor: ActorLike,
) -> Document:
    """Post an adjustment (nota de débito / crédito).

    ``amount > 0``: a debit adjustment, a new debit item due on ``due_date`` (default the
    posting date). ``amount < 0``: a credit adjustment, cleared against ``target_item``
    when given (even a blocked one: crediting the disputed item is how a complaint is
    resolved in the customer's favour), and otherwise, like any credit, applied oldest
    due first; what is left stays as a credit.
    """
    if _as_amount(amount) == 0:
        raise DomainError(_("El ajuste no puede ser cero."))
    why = _require_reason(reason)
    posting = _as_date(posting_date, "posting_date")
    due = _as_date(due_date, "due_date") if due_date else posting
    _check_concept(concept, debit=amount > 0)
    if concept in (Concept.PAYMENT, Concept.WRITE_OFF):
        raise DomainError(
            _("El concepto %(concept)s no puede usarse en un ajuste.") % {"concept": concept}
        )
    target_id = None
    if target_item is not None:
        if amount > 0:
            raise DomainError(_("Solo un ajuste de crédito puede aplicarse a una partida."))
        target_id = target_item if isinstance(target_item, int) else target_item.pk
    user, _label = actor_parts(actor)
    account_id = _account_id(account)
    with transaction.atomic():
        _lock_account(account_id)
        book = _Book(
            account_id,
            _lock_items(account_id, extra_ids=[target_id] if target_id else []),
            user,
        )
        target = book.items.get(target_id) if target_id else None
        if target_id and (
            target is None
            or target.account_id != account_id
            or target.side != Side.DEBIT
            or target.open_amount <= 0
        ):
            raise DomainError(
                _("La partida %(id)s no es un cargo abierto de este suministro.")
                % {"id": target_id}
            )
        document, items = _write_document(
            account_id=account_id,
            kind=DocumentKind.ADJUSTMENT,
            lines=[(concept, amount, why, due if amount > 0 else posting)],
            document_date=posting,
            posting_date=posting,
            reason=why,
            user=user,
        )
        book.add(items)
        if target is not None:
            take = min(target.open_amount, -amount)
            book.clear(target.pk, items[0].pk, take, on=posting, document=document)
        applied = book.settle(on=posting, document=document)
        book.save()
        record(
            actor=actor,
            action="ledger.adjust",
            object_type="ledger.document",
            object_id=document.pk,
            account_id=account_id,
            after={
                **_doc_summary(document),
                "target_item": target_id,
                "applied": applied,
                "unblocked": book.unblocked,
            },
            reason=why,
        )
        return document


def _lock_single_item(item: OpenItem | int) -> tuple[int, OpenItem]:
    item_id = item if isinstance(item, int) else item.pk
    account_id = (
        item.account_id
        if isinstance(item, OpenItem)
        else OpenItem.objects.filter(pk=item_id).values_list("account_id", flat=True).first()
    )
    if account_id is None:
        raise DomainError(_("La partida %(id)s no existe.") % {"id": item_id})
    _lock_account(account_id)
    fresh = OpenItem.objects.select_for_update().get(pk=item_id)
    return account_id, fresh


def _copy_state(target: OpenItem | int, fresh: OpenItem) -> None:
    if isinstance(target, OpenItem):
        for field in ("open_amount", "cleared_on", "blocked", "block_reason"):
            setattr(target, field, getattr(fresh, field))


def do_block_item(
    item: OpenItem | int,
    *,
    reason: str,
    case_ref: str = "",
    responsible: str = "",
    on: date | None = None,
    actor: ActorLike,
) -> OpenItem:
    """Block an open debit item (partida en reclamo): no payment, dunning or cut touches it.

    Only that item changes; the rest of the account keeps its course.
    """
    why = _require_reason(reason)
    when = _as_date(on, "on") if on else timezone.localdate()
    user, _label = actor_parts(actor)
    with transaction.atomic():
        account_id, fresh = _lock_single_item(item)
        if fresh.side != Side.DEBIT:
            raise DomainError(_("Solo se puede bloquear un cargo, no un crédito."))
        if fresh.open_amount <= 0:
            raise DomainError(_("La partida %(id)s no tiene saldo abierto.") % {"id": fresh.pk})
        if fresh.blocked:
            raise DomainError(_("La partida %(id)s ya está bloqueada.") % {"id": fresh.pk})
        fresh.blocked = True
        fresh.block_reason = why
        OpenItem.objects.filter(pk=fresh.pk).update(blocked=True, block_reason=why)
        BlockEvent.objects.create(
            item=fresh,
            blocked=True,
            effective_on=when,
            reason=why,
            case_ref=case_ref[:40],
            responsible=responsible[:80],
            created_by=user,
        )
        record(
            actor=actor,
            action="ledger.block_item",
            object_type="ledger.openitem",
            object_id=fresh.pk,
            account_id=account_id,
            before={"blocked": False},
            after={"blocked": True, "case_ref": case_ref, "effective_on": when.isoformat()},
            reason=why,
        )
    _copy_state(item, fresh)
    return fresh


def do_unblock_item(
    item: OpenItem | int,
    *,
    reason: str,
    on: date | None = None,
    actor: ActorLike,
) -> OpenItem:
    """Lift the block of an item. Open credits of the account are then applied (by default
    policy), so money kept as a credit while the item was disputed now pays it."""
    why = _require_reason(reason)
    when = _as_date(on, "on") if on else timezone.localdate()
    user, _label = actor_parts(actor)
    with transaction.atomic():
        account_id, fresh = _lock_single_item(item)
        if not fresh.blocked:
            raise DomainError(_("La partida %(id)s no está bloqueada.") % {"id": fresh.pk})
        OpenItem.objects.filter(pk=fresh.pk).update(blocked=False, block_reason="")
        BlockEvent.objects.create(
            item=fresh, blocked=False, effective_on=when, reason=why, created_by=user
        )
        book = _Book(account_id, _lock_items(account_id), user)
        applied = book.settle(on=when, document=None)
        book.save()
        fresh = book.items.get(fresh.pk, fresh)
        fresh.blocked, fresh.block_reason = False, ""
        record(
            actor=actor,
            action="ledger.unblock_item",
            object_type="ledger.openitem",
            object_id=fresh.pk,
            account_id=account_id,
            before={"blocked": True},
            after={"blocked": False, "effective_on": when.isoformat(), "credit_applied": applied},
            reason=why,
        )
    _copy_state(item, fresh)
    return fresh


def do_write_off(
    account: Account | int,
    *,
    items: Sequence[OpenItem | int] | None = None,
    reason: str,
    posting_date: date,
    actor: ActorLike,
) -> Document:
    """Write off (castigar) open debit items: one credit line per item, clearing it.

    ``items=None`` writes off every open unblocked debit of the account. Blocked items
    are refused: resolve the complaint first. Unapplied credits of the account (e.g.
    migrated ones) are applied before, so paid debt is never written off.
    """
    why = _require_reason(reason)
    posting = _as_date(posting_date, "posting_date")
    wanted = None if items is None else [i if isinstance(i, int) else i.pk for i in items]
    if wanted is not None and len(set(wanted)) != len(wanted):
        raise DomainError(_("Una partida aparece dos veces en el castigo."))
    user, _label = actor_parts(actor)
    account_id = _account_id(account)
    with transaction.atomic():
        _lock_account(account_id)
        book = _Book(account_id, _lock_items(account_id, extra_ids=wanted or []), user)
        # Unapplied credits (e.g. migrated ones) pay first: never forgive debt that is paid.
        book.settle(on=posting, document=None)
        if wanted is None:
            targets = rules.order_debits(_plain(i) for i in book.items.values())
            chosen = [book.items[t.id] for t in targets]
        else:
            chosen = []
            for item_id in wanted:
                it = book.items.get(item_id)
                if (
                    it is None
                    or it.account_id != account_id
                    or it.side != Side.DEBIT
                    or it.open_amount <= 0
                ):
                    raise DomainError(
                        _("La partida %(id)s no es un cargo abierto de este suministro.")
                        % {"id": item_id}
                    )
                if it.blocked:
                    raise DomainError(
                        _("La partida %(id)s está bloqueada por un reclamo; no se puede castigar.")
                        % {"id": item_id}
                    )
                chosen.append(it)
        if not chosen:
            raise DomainError(_("No hay partidas abiertas que castigar."))
        document, credits = _write_document(
            account_id=account_id,
            kind=DocumentKind.WRITE_OFF,
            lines=[
                (
                    Concept.WRITE_OFF,
                    -it.open_amount,
                    _("Castigo de la partida %(id)s") % {"id": it.pk},
                    posting,
                )
                for it in chosen
            ],
            document_date=posting,
            posting_date=posting,
            reason=why,
            user=user,
        )
        book.add(credits)
        for it, credit in zip(chosen, credits, strict=True):
            book.clear(it.pk, credit.pk, credit.amount, on=posting, document=document)
        book.save()
        record(
            actor=actor,
            action="ledger.write_off",
            object_type="ledger.document",
            object_id=document.pk,
            account_id=account_id,
            after={**_doc_summary(document), "items": [it.pk for it in chosen]},
            reason=why,
        )
        return document


def apply_credits(account: Account | int, *, on: date, actor: ActorLike = None) -> list[Clearing]:
    """Apply the account's open credits to its open unblocked debits (oldest due first).

    Returns the clearings written (none when there was nothing to apply). The ledger
    actions already do this after every posting; this is for repairs and migrations.
    """
    when = _as_date(on, "on")
    user, _label = actor_parts(actor)
    account_id = _account_id(account)
    with transaction.atomic():
        _lock_account(account_id)
        book = _Book(account_id, _lock_items(account_id), user)
        applied = book.settle(on=when, document=None)
        book.save()
        if book.clearings:
            record(
                actor=actor,
                action="ledger.apply_credits",
                object_type="cadastre.account",
                object_id=account_id,
                account_id=account_id,
                after={"applied": applied, "clearings": len(book.clearings)},
            )
        return book.clearings
