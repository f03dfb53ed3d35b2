"""The cash desk (caja) and the supervisor's view of cashier sessions.

- ``/caja/``: without an open session, the form to open one (point, opening float) and the
  summary of the cashier's last closed session; with one, the desk: a scan box (a
  barcode scanner types into it and sends Enter), the debt of what was scanned, the
  payment form (amount prefilled with what is due; cash with tendered and change, card,
  cheque), and the session's payments with their receipts and reversal.
  ``collection.take_payments``.
- ``/caja/abrir/``, ``/caja/cobrar/``, ``/caja/pagos/<id>/reversar/`` (POST),
  ``/caja/cerrar/`` (GET form, POST close): ``collection.take_payments``; they act on the
  user's own open session only.
- ``/caja/recibos/<id>.pdf``: the receipt (80 mm PDF); the first print is the original,
  later ones say "REIMPRESIÓN". ``collection.take_payments`` or ``collection.supervise_cash``.
- ``/caja/sesiones/`` (by day, point, cashier, state), ``/caja/sesiones/<id>/`` (one
  session) and ``/caja/sesiones/<id>/revisar/`` (POST): ``collection.supervise_cash``.

"Cobrar" posts the form; the page's script sends it with ``fetch`` and opens the receipt
in a new tab as soon as the payment is recorded (a browser without the script gets the
desk back with a button to print it). Every form carries a UUID drawn with the page, so a
double submit posts once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from caudal.billing.document import amount_width, qr_format
from caudal.cadastre.models import Connection, ConnectionStatus, Service
from caudal.collection import actions, cashdesk, errors, receipt, scan
from caudal.collection.models import (
    CashierSession,
    CentreKind,
    Payment,
    PaymentMethod,
    PaymentPoint,
    PaymentStatus,
    SessionStatus,
)
from caudal.kernel.money import MoneyError, exponent, parse_amount, to_major

from ..context_processors import get_utility
from ..permissions import require_perms

TAKE = "collection.take_payments"
SUPERVISE = "collection.supervise_cash"
SESSION_ROWS = 300  # sessions listed on the supervisor page at most

# Where a refusal of the payment path is shown on the desk form.
CODE_FIELDS = {
    errors.UNKNOWN_REFERENCE: "ref",
    errors.NOTHING_DUE: "amount",
    errors.WRONG_AMOUNT: "amount",
}


# --- helpers -----------------------------------------------------------------------------


def _money(text: str, currency: str, *, label: str, required: bool = True) -> int | None:
    """An amount typed by the cashier (``1234.50`` or ``1234,50``) in minor units."""
    raw = (text or "").strip()
    if not raw:
        if required:
            raise cashdesk.CashDeskError(errors.INVALID, _("Indique %(f)s.") % {"f": label})
        return None
    try:
        value = parse_amount(raw, currency)
    except MoneyError as exc:
        raise cashdesk.CashDeskError(
            errors.INVALID,
            _("%(f)s: escriba el importe como 1234.50 (sin separador de miles).") % {"f": label},
        ) from exc
    if value < 0:
        raise cashdesk.CashDeskError(
            errors.INVALID, _("%(f)s no puede ser negativo.") % {"f": label}
        )
    return value


def _plain(minor: int, currency: str) -> str:
    """Minor units as the amount inputs take them: ``1234.50``."""
    return f"{to_major(minor, currency):.{exponent(currency)}f}"


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def _user_label(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


@dataclass
class Lookup:
    """What the scan box found."""

    text: str = ""
    error: str = ""
    scanned: scan.Scan | None = None
    debt: actions.Debt | None = None
    printed_amount: int | None = None  # the amount the barcode or QR carries, minor units
    cut: bool = False

    @property
    def reference(self) -> str:
        return self.scanned.reference if self.scanned else ""


def _lookup(text: str, currency: str) -> Lookup:
    found = Lookup(text=(text or "").strip())
    if not found.text:
        return found
    try:
        found.scanned = scan.read(text, amount_width=amount_width(), qr_format=qr_format())
        account, bill = actions.resolve(found.scanned.reference)
        found.debt = actions.debt(account, bill)
        if found.scanned.gs1 or found.scanned.qr:
            found.printed_amount = found.scanned.amount_minor(exponent(currency))
    except (scan.ScanError, errors.PaymentRefused) as exc:
        found.error = str(exc)
        return found
    found.cut = Connection.objects.filter(
        account_id=account.pk, service=Service.WATER, status=ConnectionStatus.CUT
    ).exists()
    return found


@dataclass
class PayForm:
    reference: str = ""
    amount: str = ""
    method: str = PaymentMethod.CASH
    tendered: str = ""
    cheque_bank: str = ""
    cheque_number: str = ""
    card_last4: str = ""
    card_authorization: str = ""
    client_key: str = field(default_factory=lambda: str(uuid.uuid4()))

    @classmethod
    def from_post(cls, data: Any) -> PayForm:
        form = cls()
        for name in cls.__dataclass_fields__:
            if name in data:
                setattr(form, name, str(data.get(name, "")).strip())
        return form


def _session_payments(session: CashierSession) -> list[Payment]:
    return list(
        Payment.objects.filter(session_id=session.pk)
        .select_related("account__customer")
        .order_by("-pk")
    )


def _desk(
    request: HttpRequest,
    session: CashierSession,
    *,
    lookup: Lookup,
    form: PayForm | None = None,
    form_errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    utility = get_utility(request)
    currency = utility.currency
    if form is None:
        form = PayForm()
        if lookup.debt is not None:
            form.reference = lookup.reference
            form.amount = _plain(lookup.debt.due, currency) if lookup.debt.due > 0 else ""
    payments = _session_payments(session)
    posted = [p for p in payments if p.status == PaymentStatus.POSTED]
    done: Payment | None = None
    handed: tuple[int | None, int] = (None, 0)
    paid_id = request.GET.get("pago", "")
    if paid_id.isdigit():
        done = next((p for p in payments if p.pk == int(paid_id)), None)
        if done is not None and done.method == PaymentMethod.CASH:
            handed = cashdesk.cash_handed(done)
    today = timezone.localdate()
    return render(
        request,
        "collection/cashdesk.html",
        {
            "session": session,
            "lookup": lookup,
            "form": form,
            "errors": form_errors or {},
            "payments": payments,
            "posted_count": len(posted),
            "posted_total": sum(p.amount for p in posted),
            "done": done,
            "done_tendered": handed[0],
            "done_change": handed[1],
            "today": today,
            "methods": [(m, PaymentMethod(m).label) for m in cashdesk.DESK_METHODS],
            "nav": "cash-desk",
        },
        status=status,
    )


def _open_page(
    request: HttpRequest,
    *,
    form_errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    last = (
        CashierSession.objects.select_related("point__centre", "reviewed_by")
        .filter(cashier_id=request.user.pk, status=SessionStatus.CLOSED)
        .order_by("-closed_at", "-pk")
        .first()
    )
    return render(
        request,
        "collection/cashdesk_open.html",
        {
            "points": cashdesk.desk_points(),
            "errors": form_errors or {},
            "values": values or {},
            "last": last,
            "last_rows": _method_rows(last) if last else [],
            "nav": "cash-desk",
        },
        status=status,
    )


@dataclass
class MethodRow:
    method: str
    label: str
    expected: int
    counted: int | None
    difference: int | None


def _method_rows(session: CashierSession) -> list[MethodRow]:
    closed = session.status == SessionStatus.CLOSED
    expected = session.expected if closed else cashdesk.expected_amounts(session)
    rows = []
    for method in cashdesk.DESK_METHODS:
        exp = int(expected.get(method, 0))
        cnt = int(session.counted.get(method, 0)) if closed else None
        rows.append(
            MethodRow(
                method=method,
                label=str(PaymentMethod(method).label),
                expected=exp,
                counted=cnt,
                difference=(cnt - exp) if cnt is not None else None,
            )
        )
    return rows


# --- the desk ----------------------------------------------------------------------------


@require_GET
@require_perms(TAKE)
def desk(request: HttpRequest) -> HttpResponse:
    session = cashdesk.open_session_of(request.user.pk)
    if session is None:
        return _open_page(request)
    currency = get_utility(request).currency
    return _desk(request, session, lookup=_lookup(request.GET.get("ref", ""), currency))


@require_POST
@require_perms(TAKE)
def open_session(request: HttpRequest) -> HttpResponse:
    currency = get_utility(request).currency
    values = {k: request.POST.get(k, "").strip() for k in ("point", "opening_float")}
    form_errors: dict[str, str] = {}
    point: PaymentPoint | None = None
    if values["point"].isdigit():
        point = PaymentPoint.objects.filter(
            pk=int(values["point"]), centre__kind=CentreKind.OFFICE
        ).first()
    if point is None:
        form_errors["point"] = _("Elija el punto de pago.")
    opening = 0
    try:
        opening = _money(values["opening_float"], currency, label=_("el fondo de caja")) or 0
    except cashdesk.CashDeskError as exc:
        form_errors["opening_float"] = str(exc)
    if not form_errors:
        assert point is not None
        try:
            cashdesk.do_open_session(request.user, point, opening, actor=request.user)
        except cashdesk.CashDeskError as exc:
            form_errors[exc.field or "point"] = str(exc)
    if form_errors:
        return _open_page(request, form_errors=form_errors, values=values, status=422)
    messages.success(request, _("Caja abierta. Escanee el primer recibo."))
    return redirect("cash-desk")


@require_POST
@require_perms(TAKE)
def pay(request: HttpRequest) -> HttpResponse:
    session = cashdesk.open_session_of(request.user.pk)
    if session is None:
        messages.error(request, _("No tiene una sesión de caja abierta."))
        return redirect("cash-desk")
    currency = get_utility(request).currency
    form = PayForm.from_post(request.POST)
    lookup = _lookup(request.POST.get("ref", "") or form.reference, currency)
    form_errors: dict[str, str] = {}
    amount = tendered = None
    try:
        amount = _money(form.amount, currency, label=_("el importe"))
    except cashdesk.CashDeskError as exc:
        form_errors["amount"] = str(exc)
    if form.method == PaymentMethod.CASH:
        try:
            tendered = _money(
                form.tendered, currency, label=_("el efectivo recibido"), required=False
            )
        except cashdesk.CashDeskError as exc:
            form_errors["tendered"] = str(exc)
    if not form.reference:
        form_errors["ref"] = _("Escanee el recibo o escriba el suministro antes de cobrar.")
    if not form_errors:
        assert amount is not None
        try:
            result = cashdesk.do_take_payment(
                session,
                reference=form.reference,
                amount=amount,
                method=form.method,
                tendered=tendered,
                cheque_bank=form.cheque_bank,
                cheque_number=form.cheque_number,
                card_last4=form.card_last4,
                card_authorization=form.card_authorization,
                client_key=form.client_key,
                actor=request.user,
            )
        except cashdesk.CashDeskError as exc:
            form_errors[exc.field or "form"] = str(exc)
        except errors.PaymentRefused as exc:
            form_errors[CODE_FIELDS.get(exc.code, "form")] = str(exc)
    if form_errors:
        return _desk(
            request, session, lookup=lookup, form=form, form_errors=form_errors, status=422
        )
    payment = result.payment
    receipt_url = reverse("cash-desk-receipt", args=[payment.pk])
    next_url = f"{reverse('cash-desk')}?pago={payment.pk}"
    if _wants_json(request):
        return JsonResponse(
            {
                "payment": payment.pk,
                "replay": result.replay,
                "change": result.change,
                "receipt": receipt_url,
                "next": next_url,
            }
        )
    return redirect(next_url)


@require_POST
@require_perms(TAKE)
def reverse_payment(request: HttpRequest, pk: int) -> HttpResponse:
    session = cashdesk.open_session_of(request.user.pk)
    if session is None:
        messages.error(request, _("No tiene una sesión de caja abierta."))
        return redirect("cash-desk")
    try:
        cashdesk.do_reverse_payment(
            session, pk, reason=request.POST.get("reason", ""), actor=request.user
        )
    except errors.PaymentRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Pago N.º %(n)s anulado: la deuda que pagó vuelve a estar pendiente.")
            % {"n": receipt.receipt_number(pk)},
        )
    return redirect("cash-desk")


@require_GET
def receipt_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    if not (user.has_perm(TAKE) or user.has_perm(SUPERVISE)):
        raise PermissionDenied
    payment = Payment.objects.filter(pk=pk).first()
    if payment is None:
        raise Http404(pk)
    pdf = receipt.do_print_receipt(payment, actor=user)
    response = HttpResponse(pdf, content_type="application/pdf")
    number = receipt.receipt_number(payment)
    response["Content-Disposition"] = f'inline; filename="comprobante_{number}.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@require_perms(TAKE)
def close_session(request: HttpRequest) -> HttpResponse:
    session = cashdesk.open_session_of(request.user.pk)
    currency = get_utility(request).currency
    values = {m: request.POST.get(m, "").strip() for m in cashdesk.DESK_METHODS}
    note = request.POST.get("note", "").strip()
    form_errors: dict[str, str] = {}
    if session is not None and request.method == "POST":
        counted: dict[str, int] = {}
        for method in cashdesk.DESK_METHODS:
            try:
                counted[method] = (
                    _money(
                        values[method],
                        currency,
                        label=str(PaymentMethod(method).label).lower(),
                        required=False,
                    )
                    or 0
                )
            except cashdesk.CashDeskError as exc:
                form_errors[method] = str(exc)
        if not form_errors:
            try:
                closed = cashdesk.do_close_session(session, counted, note, actor=request.user)
            except cashdesk.CashDeskError as exc:
                form_errors[exc.field or "form"] = str(exc)
            else:
                if closed.difference == 0:
                    messages.success(request, _("Caja cerrada y cuadrada."))
                else:
                    messages.warning(
                        request,
                        _("Caja cerrada con diferencia; el supervisor la revisará."),
                    )
                return redirect("cash-desk")
    return render(
        request,
        "collection/cashdesk_close.html",
        {
            "session": session,
            "payments_count": (
                Payment.objects.filter(session=session, status=PaymentStatus.POSTED).count()
                if session
                else 0
            ),
            "methods": [(m, PaymentMethod(m).label) for m in cashdesk.DESK_METHODS],
            "values": values,
            "note": note,
            "errors": form_errors,
            "nav": "cash-desk",
        },
        status=422 if form_errors else 200,
    )


# --- supervisor --------------------------------------------------------------------------


STATES = {
    "": _l("todas"),
    "abiertas": _l("abiertas"),
    "cerradas": _l("cerradas"),
    "por-revisar": _l("cerradas sin revisar"),
    "diferencia": _l("con diferencia"),
}


@dataclass
class SessionRow:
    session: CashierSession
    payments: int
    expected: int
    counted: int | None
    difference: int | None


def _session_rows(sessions: list[CashierSession]) -> list[SessionRow]:
    rows = []
    for s in sessions:
        closed = s.status == SessionStatus.CLOSED
        posted = int(getattr(s, "posted_total", 0) or 0)
        expected = sum(int(v) for v in s.expected.values()) if closed else posted + s.opening_float
        counted = sum(int(v) for v in s.counted.values()) if closed else None
        rows.append(
            SessionRow(
                session=s,
                payments=int(getattr(s, "posted_count", 0) or 0),
                expected=expected,
                counted=counted,
                difference=s.difference if closed else None,
            )
        )
    return rows


@require_GET
@require_perms(SUPERVISE)
def sessions(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    day_text = request.GET.get("dia", today.isoformat()).strip()
    day: date | None = None
    problem = ""
    if day_text:
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            problem = _("Escriba el día como AAAA-MM-DD.")
    point = request.GET.get("punto", "").strip()
    cashier = request.GET.get("cajero", "").strip()
    state = request.GET.get("estado", "").strip()
    posted = Q(payments__status=PaymentStatus.POSTED)
    qs = CashierSession.objects.select_related("cashier", "point__centre", "reviewed_by")
    if day is not None:
        qs = qs.filter(opened_at__date=day)
    if point.isdigit():
        qs = qs.filter(point_id=int(point))
    if cashier.isdigit():
        qs = qs.filter(cashier_id=int(cashier))
    if state == "abiertas":
        qs = qs.filter(status=SessionStatus.OPEN)
    elif state == "cerradas":
        qs = qs.filter(status=SessionStatus.CLOSED)
    elif state == "por-revisar":
        qs = qs.filter(status=SessionStatus.CLOSED, reviewed_at__isnull=True)
    elif state == "diferencia":
        qs = qs.filter(status=SessionStatus.CLOSED).exclude(difference=0)
    qs = qs.annotate(
        posted_count=Count("payments", filter=posted),
        posted_total=Sum("payments__amount", filter=posted),
    ).order_by("-opened_at", "-pk")
    rows = _session_rows(list(qs[:SESSION_ROWS]))
    closed = [r for r in rows if r.counted is not None]
    stale = CashierSession.objects.filter(
        status=SessionStatus.OPEN, opened_at__date__lt=today
    ).count()
    user_model = get_user_model()
    return render(
        request,
        "collection/cashdesk_sessions.html",
        {
            "rows": rows,
            "truncated": len(rows) == SESSION_ROWS,
            "totals": {
                "expected": sum(r.expected for r in closed),
                "counted": sum(r.counted or 0 for r in closed),
                "difference": sum(r.difference or 0 for r in closed),
                "payments": sum(r.payments for r in rows),
            },
            "day_value": day_text,
            "problem": problem,
            "point": point,
            "cashier": cashier,
            "state": state,
            "states": STATES,
            "points": PaymentPoint.objects.filter(centre__kind=CentreKind.OFFICE)
            .select_related("centre")
            .order_by("centre__code", "code"),
            "cashiers": user_model.objects.filter(
                pk__in=CashierSession.objects.values("cashier_id")
            ).order_by("first_name", "last_name", "username"),
            "stale": stale,
            "today": today,
            "nav": "cash-sessions",
        },
        status=400 if problem else 200,
    )


def _session_detail(
    request: HttpRequest,
    session: CashierSession,
    *,
    form_errors: dict[str, str] | None = None,
    note: str = "",
    status: int = 200,
) -> HttpResponse:
    payments = _session_payments(session)
    return render(
        request,
        "collection/cashdesk_session.html",
        {
            "session": session,
            "rows": _method_rows(session),
            "payments": payments,
            "own": session.cashier_id == request.user.pk,
            "errors": form_errors or {},
            "note": note,
            "nav": "cash-sessions",
        },
        status=status,
    )


def _get_session(pk: int) -> CashierSession:
    session = (
        CashierSession.objects.select_related("cashier", "point__centre", "reviewed_by")
        .filter(pk=pk)
        .first()
    )
    if session is None:
        raise Http404(pk)
    return session


@require_GET
@require_perms(SUPERVISE)
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _session_detail(request, _get_session(pk))


@require_POST
@require_perms(SUPERVISE)
def review_session(request: HttpRequest, pk: int) -> HttpResponse:
    session = _get_session(pk)
    note = request.POST.get("note", "").strip()
    try:
        cashdesk.do_review_session(session, note, actor=request.user)
    except cashdesk.CashDeskError as exc:
        return _session_detail(
            request,
            _get_session(pk),
            form_errors={exc.field or "form": str(exc)},
            note=note,
            status=exc.status if exc.status in (403, 409) else 422,
        )
    messages.success(
        request,
        _("Sesión de %(c)s revisada.") % {"c": _user_label(session.cashier)},
    )
    return redirect("cash-sessions-detail", pk=pk)
