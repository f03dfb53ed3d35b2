"""Collection actions: every write of the collection app goes through a ``do_*`` here.

The payment path (:func:`do_post_centre_payment`) is shared by the API of the collection
centres, the cash desk and the demo: resolve the reference, check the amount against the
centre's rule, post through the ledger (allocation policy, overpayment as credit, blocked
items never paid), record who collected it, and note a reconnection when the payment clears
the debt of a cut account. It is idempotent per centre and key: a retry returns the
payment first posted; the same key with a different request is refused.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import IO, Any, TypeVar

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, actor_parts, record
from caudal.billing.models import Bill
from caudal.cadastre.models import Account, Connection, ConnectionStatus, Service
from caudal.kernel.errors import DomainError
from caudal.ledger import actions as ledger
from caudal.ledger.models import OpenItem, Side

from . import errors, rules
from .models import (
    ApiKey,
    CashierSession,
    Centre,
    Payment,
    PaymentPoint,
    PaymentStatus,
    ReconnectionDue,
)

#: ``last_used_at`` of a key is written at most this often (not on every request).
KEY_TOUCH_INTERVAL = timedelta(seconds=60)

_M = TypeVar("_M", bound=models.Model)


# --- fast reads ------------------------------------------------------------------------
#
# The payment path runs thousands of times a second (API, bank files, cash desk). Its reads
# are one-table lookups by a unique or indexed key; building them through the ORM's query
# compiler costs several times the query itself, so they are plain SQL here, turned into
# model instances with the same converters the ORM applies (dates, datetimes, booleans,
# decimals, JSON on each database).


@dataclass(frozen=True)
class _Loader:
    model: type[models.Model]
    sql: str
    names: list[str]
    converters: list[tuple[int, Any, list[Any]]]  # (position, column, converters)


_LOADERS: dict[tuple[Any, ...], _Loader] = {}


def _loader(model: type[models.Model], where: str, *, exclude: tuple[str, ...] = ()) -> _Loader:
    key = (model, where, exclude, connection.vendor)
    found = _LOADERS.get(key)
    if found is not None:
        return found
    opts = model._meta
    fields = [f for f in opts.concrete_fields if f.name not in exclude]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(str(f.column)) for f in fields)
    sql = f"SELECT {columns} FROM {qn(opts.db_table)} WHERE {where}"
    converters = []
    for position, f in enumerate(fields):
        col = f.get_col(opts.db_table)
        # What the ORM's compiler applies: the backend's converters, then the field's.
        found_converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if found_converters:
            converters.append((position, col, found_converters))
    loader = _Loader(model, sql, [f.attname for f in fields], converters)
    _LOADERS[key] = loader
    return loader


def _fetch(
    model: type[_M], where: str, params: list[Any], *, exclude: tuple[str, ...] = ()
) -> _M | None:
    """The first row of ``SELECT <model's columns> FROM <table> WHERE <where>`` as a model
    instance (``exclude``: fields left deferred), or None."""
    loader = _loader(model, where, exclude=exclude)
    with connection.cursor() as cursor:
        cursor.execute(loader.sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for position, col, converters in loader.converters:
        for convert in converters:
            values[position] = convert(values[position], col, connection)
    return model.from_db(connection.alias, loader.names, values)  # type: ignore[return-value]


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


# --- what is owed ----------------------------------------------------------------------


@dataclass
class OpenBill:
    number: str
    period: str
    due_date: date
    payment_reference: str
    open_amount: int


@dataclass
class Debt:
    """What an account owes, as a centre or a cashier sees it before taking a payment."""

    account: Account
    bill: Bill | None  # the bill named by the reference, if it was a bill reference
    due: int  # what an ``exact`` centre must collect for this reference
    payable: int  # open unblocked debits − open credits (never below 0)
    overdue: int  # open unblocked debits past due
    blocked: int  # open blocked (disputed) debits: not payable until resolved
    credit: int  # open credits (saldo a favor)
    bills: list[OpenBill] = field(default_factory=list)


#: Bill columns a payment never needs (left deferred: loaded if someone reads them).
_BILL_DEFERRED = ("lines", "messages")


def _bill_by_reference(ref: str) -> Bill | None:
    bill = _fetch(
        Bill, "payment_reference = %s ORDER BY version DESC, id DESC", [ref], exclude=_BILL_DEFERRED
    )
    if bill is not None:
        account = _fetch(Account, "id = %s", [bill.account_id])
        assert account is not None  # a foreign key
        bill.account = account
    return bill


def resolve(reference: str) -> tuple[Account, Bill | None]:
    """An account number or a bill's payment reference (GS1 8020 / Peruvian payment code).

    Order: the account number as given, a bill's reference as given (its latest version),
    then, for digits only, both again without leading zeros."""
    ref = (reference or "").strip()
    if not ref:
        raise errors.PaymentRefused(
            errors.INVALID, _("Indique el número de suministro o la referencia del recibo.")
        )
    account = _fetch(Account, "number = %s", [ref])
    if account is not None:
        return account, None
    bill = _bill_by_reference(ref)
    if bill is None and ref.isdigit():
        stripped = ref.lstrip("0")
        if stripped and stripped != ref:
            account = _fetch(Account, "number = %s", [stripped])
            if account is not None:
                return account, None
            bill = _bill_by_reference(stripped)
    if bill is None:
        raise errors.PaymentRefused(
            errors.UNKNOWN_REFERENCE,
            _("No existe un suministro ni un recibo con la referencia %(ref)s.") % {"ref": ref},
            status=404,
        )
    return bill.account, bill


_OPEN_ITEMS = (
    "SELECT side, open_amount, due_date, blocked, document_id FROM ledger_openitem "
    "WHERE account_id = %s AND open_amount > 0"
)


def _owed(account: Account, bill: Bill | None, today: date) -> tuple[Debt, dict[int, int]]:
    """The debt without its list of bills, and the open unblocked debit per document."""
    debits = blocked = credit = overdue = 0
    open_by_doc: dict[int, int] = {}
    for side, amount, due_date, is_blocked, doc in _rows(_OPEN_ITEMS, [account.pk]):
        if side == Side.CREDIT:
            credit += amount
        elif is_blocked:
            blocked += amount
        else:
            debits += amount
            if due_date < today:
                overdue += amount
            open_by_doc[doc] = open_by_doc.get(doc, 0) + amount
    payable = max(0, debits - credit)
    due = payable
    if bill is not None:
        own = open_by_doc.get(bill.document_id or 0, 0)
        # The bill's total includes the previous debt it listed; what was paid since is not
        # asked again. A bill already paid asks nothing.
        due = 0 if own == 0 else max(own, min(bill.total_due, payable))
    owed = Debt(
        account=account,
        bill=bill,
        due=due,
        payable=payable,
        overdue=overdue,
        blocked=blocked,
        credit=credit,
    )
    return owed, open_by_doc


def debt(account: Account, bill: Bill | None = None, *, on: date | None = None) -> Debt:
    """The account's debt on ``on`` (today by default), and what its reference asks for."""
    owed, open_by_doc = _owed(account, bill, on or timezone.localdate())
    if open_by_doc:
        docs = list(open_by_doc)
        marks = ", ".join(["%s"] * len(docs))
        rows = _rows(
            "SELECT number, period, due_date, payment_reference, document_id FROM billing_bill "
            f"WHERE account_id = %s AND document_id IN ({marks}) ORDER BY due_date, id",
            [account.pk, *docs],
        )
        owed.bills = [
            OpenBill(
                number=number,
                period=period,
                due_date=due_date,
                payment_reference=reference,
                open_amount=open_by_doc.get(doc, 0),
            )
            for number, period, due_date, reference, doc in rows
        ]
    return owed


# --- posting ---------------------------------------------------------------------------

_WRITER_LOCK = threading.Lock()
_WRITER_FILES: dict[str, IO[bytes]] = {}


@contextmanager
def _queued_writer() -> Iterator[None]:
    """On SQLite, wait in line before opening a payment's write transaction.

    SQLite lets one writer in at a time; the others poll with growing sleeps (1 ms up to
    100 ms) until the busy timeout, so under load most of a request's time is sleeping and
    the slowest wait seconds. Here the writers of a process queue on a lock and the
    processes on ``flock`` of ``<database>.writers``: a waiting writer wakes as soon as the
    previous one commits. Nothing to do on PostgreSQL (row locks), inside an outer
    transaction (it already holds the write lock) or on an in-memory database."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with _WRITER_LOCK:
        name = str(connection.settings_dict["NAME"])
        if fcntl is None or connection.is_in_memory_db():  # type: ignore[attr-defined]
            yield
            return
        handle = _WRITER_FILES.get(name)
        if handle is None:
            handle = open(f"{name}.writers", "ab")  # noqa: SIM115 - kept open for the process
            _WRITER_FILES[name] = handle
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@dataclass
class PostResult:
    payment: Payment
    replay: bool  # True when an earlier request with the same key posted it


def _request_fields(
    reference: str, amount: int, method: str, external_reference: str, point: str
) -> dict[str, object]:
    return {
        "reference": reference.strip(),
        "amount": int(amount),
        "method": method,
        "external_reference": external_reference,
        "point": point,
    }


def _replay(centre: Centre, key: str, fingerprint: str) -> PostResult | None:
    found = _rows(
        "SELECT id, request_hash FROM collection_payment WHERE centre_id = %s "
        "AND idempotency_key = %s",
        [centre.pk, key],
    )
    if not found:
        return None
    pk, request_hash = found[0]
    if request_hash != fingerprint:
        raise errors.PaymentRefused(
            errors.KEY_REUSED,
            _(
                "La clave de idempotencia %(key)s ya se usó para otro pago "
                "(suministro, importe o medio distintos)."
            )
            % {"key": key},
            status=409,
        )
    return PostResult(payment=Payment.objects.get(pk=pk), replay=True)


def _document_reference(centre: Centre, key: str) -> str:
    if not key:
        return ""
    ref = f"{centre.code}:{key}"
    return ref if len(ref) <= 64 else f"{centre.code}:{rules.request_hash({'k': key})[:40]}"


_INSERTS: dict[tuple[Any, ...], tuple[str, list[Any]]] = {}


def _insert(obj: models.Model) -> None:
    """``obj.save()`` for a new row of a model without ``auto_now``/``auto_now_add`` fields
    or save hooks, as one prepared INSERT (the ORM's insert compiler costs more than the
    insert on this path). Sets ``obj.pk``."""
    model = type(obj)
    key = (model, connection.vendor)
    cached = _INSERTS.get(key)
    if cached is None:
        opts = model._meta
        fields = [f for f in opts.concrete_fields if not f.primary_key]
        qn = connection.ops.quote_name
        returning = " RETURNING id" if connection.features.can_return_columns_from_insert else ""
        sql = (
            f"INSERT INTO {qn(opts.db_table)} ({', '.join(qn(str(f.column)) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}){returning}"
        )
        cached = (sql, fields)
        _INSERTS[key] = cached
    sql, fields = cached
    params = [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if connection.features.can_return_columns_from_insert:
            obj.pk = cursor.fetchone()[0]
        else:
            obj.pk = connection.ops.last_insert_id(cursor, model._meta.db_table, "id")
    obj._state.adding = False
    obj._state.db = connection.alias


def _water_cut(account_id: int) -> bool:
    return bool(
        _rows(
            "SELECT 1 FROM cadastre_connection WHERE account_id = %s AND service = %s "
            "AND status = %s",
            [account_id, Service.WATER.value, ConnectionStatus.CUT.value],
        )
    )


def do_post_centre_payment(
    *,
    centre: Centre,
    reference: str,
    amount: int,
    method: str = "cash",
    idempotency_key: str = "",
    external_reference: str = "",
    point: PaymentPoint | None = None,
    session: CashierSession | None = None,
    received_at: datetime | None = None,
    actor: ActorLike,
) -> PostResult:
    """Post a payment collected by ``centre`` (see the module docstring).

    Raises :class:`errors.PaymentRefused` (unknown reference, nothing due, wrong amount,
    key reused for a different request, inactive centre) and posts nothing then.

    Concurrency: the amount is checked against the debt read under the account's row lock
    (PostgreSQL; SQLite writers are serialized by the IMMEDIATE transaction), so two
    payments of the same bill at once cannot both pass an ``exact`` check. Two requests
    with the same key at once: the second waits for the first and answers as its retry.
    """
    if not centre.active:
        raise errors.PaymentRefused(
            errors.INACTIVE, _("El centro %(c)s está inactivo.") % {"c": centre.code}, status=403
        )
    if method not in rules.METHODS:
        raise errors.PaymentRefused(
            errors.INVALID, _("Medio de pago desconocido: %(m)s.") % {"m": method}
        )
    key = (idempotency_key or "").strip()
    if len(key) > 80:
        raise errors.PaymentRefused(
            errors.INVALID, _("La clave de idempotencia admite hasta 80 caracteres.")
        )
    if point is not None and point.centre_id != centre.pk:
        raise errors.PaymentRefused(
            errors.INVALID, _("El punto de pago no pertenece al centro."), status=422
        )
    fingerprint = rules.request_hash(
        _request_fields(reference, amount, method, external_reference, point.code if point else "")
    )
    when = received_at or timezone.now()
    paid_on = timezone.localdate(when)
    try:
        with _queued_writer(), transaction.atomic():
            if key:
                replay = _replay(centre, key, fingerprint)
                if replay is not None:
                    return replay
            account, bill = resolve(reference)
            if connection.features.has_select_for_update:
                # The ledger takes this lock first too; taking it before reading the debt
                # makes the amount check and the posting one step.
                _rows("SELECT id FROM cadastre_account WHERE id = %s FOR UPDATE", [account.pk])
                if key:
                    replay = _replay(centre, key, fingerprint)
                    if replay is not None:
                        return replay
            owed, _open = _owed(account, bill, paid_on)
            if bill is not None and owed.due == 0:
                raise errors.PaymentRefused(
                    errors.NOTHING_DUE,
                    _("El recibo %(n)s ya está pagado.") % {"n": bill.number},
                    status=409,
                )
            problem = rules.check_amount(centre.amount_rule, int(amount), owed.due)
            if problem:
                code = errors.NOTHING_DUE if owed.due <= 0 else errors.WRONG_AMOUNT
                raise errors.PaymentRefused(
                    code, problem, status=409 if code == errors.NOTHING_DUE else 422
                )
            document = ledger.do_post_payment(
                account.pk,
                amount=int(amount),
                payment_date=paid_on,
                reference=_document_reference(centre, key),
                source=f"collection:{centre.code}"[:64],
                actor=actor,
            )
            user, _label = actor_parts(actor)
            payment = Payment(
                centre=centre,
                point=point,
                account=account,
                amount=int(amount),
                payment_date=paid_on,
                received_at=when,
                method=method,
                bill_reference=bill.payment_reference if bill else "",
                external_reference=external_reference[:64],
                idempotency_key=key,
                request_hash=fingerprint,
                document=document,
                session=session,
                created_by=user,
            )
            _insert(payment)
            if _water_cut(account.pk):
                note_reconnection(account.pk, payment=payment, document_id=document.pk, on=paid_on)
            return PostResult(payment=payment, replay=False)
    except errors.PaymentRefused:
        raise
    except (IntegrityError, DomainError):
        # A concurrent request with the same key won the race: the unique key of the
        # payment (or of its ledger document's reference) refused this one. Answer as a
        # retry (or as a reused key); anything else goes up.
        if key:
            replay = _replay(centre, key, fingerprint)
            if replay is not None:
                return replay
        raise


def note_reconnection(
    account_id: int, *, payment: Payment | None, document_id: int, on: date
) -> ReconnectionDue | None:
    """Record that a cut account no longer owes its overdue debt.

    Rule: the account's water connection is ``cut`` and, after the payment, no unblocked
    debit item due before ``on`` is open (blocked items are disputed: they never keep an
    account cut). One pending record per account: a second payment adds none.
    """
    if not Connection.objects.filter(
        account_id=account_id, service=Service.WATER, status=ConnectionStatus.CUT
    ).exists():
        return None
    still_overdue = OpenItem.objects.filter(
        account_id=account_id,
        side=Side.DEBIT,
        open_amount__gt=0,
        blocked=False,
        due_date__lt=on,
    ).exists()
    if still_overdue:
        return None
    if ReconnectionDue.objects.filter(account_id=account_id, handled_at__isnull=True).exists():
        return None
    return ReconnectionDue.objects.create(
        account_id=account_id, payment=payment, document_id=document_id, cleared_on=on
    )


def do_reverse_payment(
    payment: Payment | int,
    *,
    reason: str,
    actor: ActorLike,
    centre: Centre | None = None,
    today: date | None = None,
) -> Payment:
    """Reverse (anular) a payment the day it was taken, before its day is settled.

    With ``centre``, a payment of another centre is reported as not found (a centre sees
    only its own payments). The ledger reversal re-opens what the payment cleared.
    """
    why = (reason or "").strip()
    if not why:
        raise errors.PaymentRefused(errors.INVALID, _("Indique el motivo de la reversión."))
    pk = payment if isinstance(payment, int) else payment.pk
    day = today or timezone.localdate()
    with transaction.atomic():
        qs = Payment.objects.select_for_update().filter(pk=pk)
        if centre is not None:
            qs = qs.filter(centre_id=centre.pk)
        row = qs.first()
        if row is None:
            raise errors.PaymentRefused(
                errors.NOT_FOUND, _("El pago %(id)s no existe.") % {"id": pk}, status=404
            )
        if row.status == PaymentStatus.REVERSED:
            raise errors.PaymentRefused(
                errors.ALREADY_REVERSED, _("El pago ya fue reversado."), status=409
            )
        if row.settlement_id is not None:
            raise errors.PaymentRefused(
                errors.DAY_CLOSED,
                _("El día %(d)s ya fue liquidado: el pago no se puede reversar.")
                % {"d": row.payment_date.isoformat()},
                status=409,
            )
        if row.payment_date != day:
            raise errors.PaymentRefused(
                errors.NOT_SAME_DAY,
                _("Solo se reversan pagos del mismo día (el pago es del %(d)s).")
                % {"d": row.payment_date.isoformat()},
                status=409,
            )
        reversal = ledger.do_reverse_document(
            row.document_id, reason=why, posting_date=day, actor=actor
        )
        row.status = PaymentStatus.REVERSED
        row.reversal_document = reversal
        row.reversed_at = timezone.now()
        row.save(update_fields=["status", "reversal_document", "reversed_at"])
        record(
            actor=actor,
            action="collection.reverse_payment",
            object_type="collection.payment",
            object_id=row.pk,
            account_id=row.account_id,
            before={"status": PaymentStatus.POSTED, "amount": row.amount},
            after={"status": PaymentStatus.REVERSED, "reversal_document": reversal.pk},
            reason=why,
        )
        return row


# --- API keys --------------------------------------------------------------------------


def do_issue_key(centre: Centre, *, label: str = "", actor: ActorLike) -> tuple[ApiKey, str]:
    """A new key for ``centre``. The raw key is returned once and never stored."""
    user, _label = actor_parts(actor)
    with transaction.atomic():
        for _attempt in range(5):
            prefix = secrets.token_hex(4)
            if not ApiKey.objects.filter(prefix=prefix).exists():
                break
        secret = secrets.token_urlsafe(32).replace("_", "-")
        key = ApiKey.objects.create(
            centre=centre,
            prefix=prefix,
            secret_hash=rules.secret_hash(secret),
            label=label[:80],
            created_by=user,
        )
        record(
            actor=actor,
            action="collection.issue_key",
            object_type="collection.apikey",
            object_id=key.pk,
            after={"centre": centre.code, "prefix": prefix, "label": key.label},
        )
    return key, f"cau_{prefix}_{secret}"


def do_revoke_key(key: ApiKey | int, *, actor: ActorLike, reason: str = "") -> ApiKey:
    with transaction.atomic():
        row = ApiKey.objects.select_for_update().get(pk=key if isinstance(key, int) else key.pk)
        if row.revoked_at is None:
            row.revoked_at = timezone.now()
            row.save(update_fields=["revoked_at"])
            record(
                actor=actor,
                action="collection.revoke_key",
                object_type="collection.apikey",
                object_id=row.pk,
                after={"prefix": row.prefix, "revoked_at": row.revoked_at.isoformat()},
                reason=reason,
            )
    return row


def do_rotate_key(key: ApiKey | int, *, actor: ActorLike) -> tuple[ApiKey, str]:
    """Issue a new key for the same centre and label, then revoke the old one."""
    with transaction.atomic():
        old = ApiKey.objects.select_related("centre").get(
            pk=key if isinstance(key, int) else key.pk
        )
        new, raw = do_issue_key(old.centre, label=old.label, actor=actor)
        do_revoke_key(old, actor=actor, reason=f"rotada: nueva clave {new.prefix}")
    return new, raw


def authenticate(raw: str) -> ApiKey | None:
    """The live key for ``raw`` (``cau_<prefix>_<secret>``), with its centre; None if the key
    is unknown, wrong, revoked or its centre is inactive."""
    parts = rules.split_key(raw or "")
    if parts is None:
        return None
    prefix, secret = parts
    key = _fetch(ApiKey, "prefix = %s", [prefix])
    if key is None or key.revoked_at is not None:
        return None
    if not secrets.compare_digest(key.secret_hash, rules.secret_hash(secret)):
        return None
    centre = _fetch(Centre, "id = %s", [key.centre_id])
    if centre is None or not centre.active:
        return None
    key.centre = centre
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
