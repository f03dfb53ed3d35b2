"""The collection office (recaudación): home, centres and keys, settlements, files,
reconnections and reports.

Permissions:

- ``collection.view_collections``: the home (today by centre, settlements with flags,
  pending deposits, reconnections due), a centre's day, the settlements, payment files,
  reconnections due and every report (pages, PDF and XLSX);
- ``collection.manage_centres``: centres and points (create, edit) and their API keys
  (issue, rotate, revoke). A new key is shown once, on the answer to the POST that made
  it (never stored, never put in the session or a message; the page is ``no-store``);
- ``collection.supervise_cash``: close a centre's day and register its deposit.

Payment files are read-only here (``caudal import-payments`` imports them).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from caudal.collection import actions, errors, reports
from caudal.collection.centres import (
    CENTRE_FIELDS,
    CentreError,
    centre_form_values,
    do_save_centre,
    do_save_point,
)
from caudal.collection.models import (
    AmountRule,
    ApiKey,
    Centre,
    CentreKind,
    DailySettlement,
    FileFormat,
    PaymentFile,
    PaymentPoint,
    ReconnectionDue,
    SettlementStatus,
)
from caudal.collection.settlement import do_close_day, do_register_deposit, terms
from caudal.kernel.errors import DomainError
from caudal.kernel.money import MoneyError, exponent, parse_amount, to_major
from caudal.kernel.periods import Period

from ..context_processors import get_utility
from ..permissions import require_perms

VIEW = "collection.view_collections"
MANAGE = "collection.manage_centres"
SUPERVISE = "collection.supervise_cash"
PAGE = 50
#: A deposit time may be this far ahead of the server clock (the bank's clock).
DEPOSIT_CLOCK_SKEW = timedelta(minutes=10)


# --- helpers --------------------------------------------------------------------------


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def _month(value: str | None, default: Period) -> Period:
    try:
        return Period.parse(value or "")
    except ValueError:
        return default


def _centre_or_none(code: str | None) -> Centre | None:
    code = (code or "").strip().upper()
    return Centre.objects.filter(code=code).first() if code else None


def _base(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    user = request.user
    return {
        "currency": get_utility(request).currency,
        "nav": "collection",
        "can_manage": user.has_perm(MANAGE),
        "can_supervise": user.has_perm(SUPERVISE),
        **extra,
    }


def _download(data: bytes, name: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- home -----------------------------------------------------------------------------


@require_GET
@require_perms(VIEW)
def home(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    today = timezone.localdate(now)
    by_centre = reports.today_by_centre(today)
    problems, _c = reports.settlement_rows(flag="problem", now=now, limit=10)
    undeposited, _c2 = reports.settlement_rows(flag="undeposited", now=now, limit=10)
    unclosed, unclosed_count = reports.unclosed_days(today=today, limit=10)
    late_count = DailySettlement.objects.filter(
        Q(deposited_at__isnull=True, expected_deposit__gt=0, deposit_due_at__lt=now)
    ).count()
    return render(
        request,
        "collection/office_home.html",
        _base(
            request,
            today=today,
            by_centre=by_centre,
            today_payments=sum(c.payments for c in by_centre),
            today_amount=sum(c.collected for c in by_centre),
            today_reversals=sum(c.reversals for c in by_centre),
            problems=problems,
            undeposited=undeposited,
            pending=reports.pending_deposits(now=now),
            late_count=late_count,
            difference_count=DailySettlement.objects.filter(
                status=SettlementStatus.DIFFERENCE
            ).count(),
            unclosed=unclosed,
            unclosed_count=unclosed_count,
            reconnections=ReconnectionDue.objects.filter(handled_at__isnull=True).count(),
            now=now,
        ),
    )


# --- centres and points ---------------------------------------------------------------


@require_GET
@require_perms(MANAGE)
def centres(request: HttpRequest) -> HttpResponse:
    rows = Centre.objects.annotate(
        n_points=Count("points", distinct=True),
        n_keys=Count("keys", filter=Q(keys__revoked_at__isnull=True), distinct=True),
    ).order_by("-active", "code")
    currency = get_utility(request).currency
    listed = list(rows)
    for c in listed:
        c.terms_text = reports.terms_text(c, currency)  # type: ignore[attr-defined]
    return render(request, "collection/office_centres.html", _base(request, centres=listed))


def _centre_fields(values: dict[str, Any], errs: dict[str, str]) -> list[dict[str, Any]]:
    labels = {
        "code": _("Código"),
        "name": _("Nombre"),
        "kind": _("Tipo"),
        "tax_id": _("RUC / NIT"),
        "amount_rule": _("Regla de importe"),
        "commission_fixed": _("Comisión fija por pago"),
        "commission_percent": _("Comisión porcentual (%)"),
        "commission_minimum": _("Comisión mínima por pago"),
        "commission_deducted": _("Descuenta la comisión del depósito"),
        "deposit_account": _("Cuenta de depósito de la empresa"),
        "deposit_days": _("Días para depositar"),
        "deposit_time": _("Hora límite de depósito"),
        "active": _("Activo"),
    }
    helps = {
        "code": _("Letras y dígitos; identifica sus pagos y claves."),
        "commission_fixed": _("Importe por cada pago no reversado."),
        "commission_percent": _("Del importe de cada pago, p. ej. 1.5."),
        "commission_minimum": _("Se cobra si la fija más el porcentaje es menor."),
        "deposit_days": _("1 = al día siguiente."),
        "commission_deducted": _(
            "Si no, deposita todo y la comisión se paga con el informe mensual."
        ),
    }
    choices = {"kind": CentreKind.choices, "amount_rule": AmountRule.choices}
    kinds = {
        "commission_deducted": "checkbox",
        "active": "checkbox",
        "deposit_time": "time",
        "deposit_days": "number",
    }
    return [
        {
            "name": name,
            "label": label,
            "value": values.get(name, ""),
            "error": errs.get(name, ""),
            "help": helps.get(name, ""),
            "choices": choices.get(name),
            "type": kinds.get(name, "text"),
        }
        for name, label in labels.items()
    ]


def _form_data(
    request: HttpRequest, names: tuple[str, ...], checkboxes: tuple[str, ...]
) -> dict[str, Any]:
    data: dict[str, Any] = {n: request.POST.get(n, "") for n in names if n not in checkboxes}
    for n in checkboxes:
        data[n] = request.POST.get(n) == "on"
    return data


# The centre form's fields are the action's fields.
CENTRE_NAMES = CENTRE_FIELDS


@require_http_methods(["GET", "POST"])
@require_perms(MANAGE)
def centre_new(request: HttpRequest) -> HttpResponse:
    return _centre_form(request, None)


@require_http_methods(["GET", "POST"])
@require_perms(MANAGE)
def centre_edit(request: HttpRequest, code: str) -> HttpResponse:
    return _centre_form(request, get_object_or_404(Centre, code=code))


def _centre_form(request: HttpRequest, centre: Centre | None) -> HttpResponse:
    currency = get_utility(request).currency
    values = centre_form_values(centre, currency)
    errs: dict[str, str] = {}
    if request.method == "POST":
        data = _form_data(request, CENTRE_NAMES, ("commission_deducted", "active"))
        try:
            saved = do_save_centre(data, actor=request.user, centre=centre, currency=currency)
        except CentreError as exc:
            errs = exc.errors
            values = data
        else:
            messages.success(
                request,
                (
                    _("Centro %(c)s registrado.")
                    if centre is None
                    else _("Centro %(c)s actualizado.")
                )
                % {"c": saved.code},
            )
            return redirect("collection-centre", code=saved.code)
    return render(
        request,
        "collection/office_centre_form.html",
        _base(request, centre=centre, fields=_centre_fields(values, errs), errors=errs),
        status=200,
    )


@require_GET
@require_perms(MANAGE)
def centre_detail(request: HttpRequest, code: str) -> HttpResponse:
    centre = get_object_or_404(Centre, code=code)
    currency = get_utility(request).currency
    return render(
        request,
        "collection/office_centre.html",
        _base(
            request,
            centre=centre,
            points=centre.points.order_by("code"),
            keys=centre.keys.select_related("created_by").order_by("revoked_at", "-created_at"),
            terms_text=reports.terms_text(centre, currency),
            terms=terms(centre),
            recent=reports.settlement_rows(centre=centre, limit=10)[0],
        ),
    )


POINT_NAMES = ("code", "name", "address", "active")


@require_http_methods(["GET", "POST"])
@require_perms(MANAGE)
def point_new(request: HttpRequest, code: str) -> HttpResponse:
    return _point_form(request, get_object_or_404(Centre, code=code), None)


@require_http_methods(["GET", "POST"])
@require_perms(MANAGE)
def point_edit(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    centre = get_object_or_404(Centre, code=code)
    return _point_form(request, centre, get_object_or_404(PaymentPoint, pk=pk, centre=centre))


def _point_form(request: HttpRequest, centre: Centre, point: PaymentPoint | None) -> HttpResponse:
    values: dict[str, Any] = {
        "code": point.code if point else "",
        "name": point.name if point else "",
        "address": point.address if point else "",
        "active": point.active if point else True,
    }
    errs: dict[str, str] = {}
    if request.method == "POST":
        data = _form_data(request, POINT_NAMES, ("active",))
        try:
            saved = do_save_point(centre, data, actor=request.user, point=point)
        except CentreError as exc:
            errs, values = exc.errors, data
        else:
            messages.success(
                request, _("Punto de pago %(p)s guardado.") % {"p": f"{centre.code}/{saved.code}"}
            )
            return redirect("collection-centre", code=centre.code)
    labels = {
        "code": _("Código"),
        "name": _("Nombre"),
        "address": _("Dirección"),
        "active": _("Activo"),
    }
    fields = [
        {
            "name": n,
            "label": labels[n],
            "value": values.get(n, ""),
            "error": errs.get(n, ""),
            "type": "checkbox" if n == "active" else "text",
            "help": "",
            "choices": None,
        }
        for n in POINT_NAMES
    ]
    return render(
        request,
        "collection/office_point_form.html",
        _base(request, centre=centre, point=point, fields=fields, errors=errs),
    )


# --- API keys -------------------------------------------------------------------------


def _key_shown(
    request: HttpRequest, key: ApiKey, raw: str, *, rotated: ApiKey | None
) -> HttpResponse:
    response = render(
        request,
        "collection/office_key_issued.html",
        _base(request, key=key, raw=raw, centre=key.centre, rotated=rotated),
    )
    add_never_cache_headers(response)
    response["Cache-Control"] = "no-store, " + response["Cache-Control"]
    return response


@require_POST
@require_perms(MANAGE)
def key_issue(request: HttpRequest, code: str) -> HttpResponse:
    centre = get_object_or_404(Centre, code=code)
    key, raw = actions.do_issue_key(
        centre, label=request.POST.get("label", "").strip(), actor=request.user
    )
    return _key_shown(request, key, raw, rotated=None)


@require_http_methods(["GET", "POST"])
@require_perms(MANAGE)
def key_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey.objects.select_related("centre"), pk=pk)
    if key.revoked_at is not None:
        messages.error(request, _("La clave %(k)s ya está revocada.") % {"k": key})
        return redirect("collection-centre", code=key.centre.code)
    if request.method == "POST":
        new, raw = actions.do_rotate_key(key, actor=request.user)
        return _key_shown(request, new, raw, rotated=key)
    return render(
        request,
        "collection/office_key_confirm.html",
        _base(request, key=key, centre=key.centre, action="rotate"),
    )


@require_http_methods(["GET", "POST"])
@require_perms(MANAGE)
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey.objects.select_related("centre"), pk=pk)
    if request.method == "POST":
        if key.revoked_at is None:
            actions.do_revoke_key(
                key, actor=request.user, reason=request.POST.get("reason", "").strip()
            )
            messages.success(
                request,
                _("Clave %(k)s revocada: el sistema del centro ya no puede usarla.") % {"k": key},
            )
        return redirect("collection-centre", code=key.centre.code)
    return render(
        request,
        "collection/office_key_confirm.html",
        _base(request, key=key, centre=key.centre, action="revoke"),
    )


# --- a centre's day, settlements, deposits --------------------------------------------


def _day_page(
    request: HttpRequest,
    centre: Centre,
    day: date,
    *,
    deposit_errors: dict[str, str] | None = None,
    deposit_values: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    before = request.GET.get("antes", "")
    detail = reports.day_detail(
        centre, day, limit=PAGE, before=int(before) if before.isdigit() else None
    )
    flags = reports.settlement_flags(detail.settlement) if detail.settlement else None
    currency = get_utility(request).currency
    s = detail.settlement
    values = deposit_values or {
        "monto": (f"{to_major(s.expected_deposit, currency):.{exponent(currency)}f}" if s else ""),
        "fecha": (timezone.localdate()).isoformat(),
        "hora": timezone.localtime().strftime("%H:%M"),
        "referencia": "",
    }
    if s and s.deposited_at and not deposit_values:
        local = timezone.localtime(s.deposited_at)
        values = {
            "monto": f"{to_major(s.deposited_amount or 0, currency):.{exponent(currency)}f}",
            "fecha": local.date().isoformat(),
            "hora": local.strftime("%H:%M"),
            "referencia": s.deposit_reference,
        }
    return render(
        request,
        "collection/office_day.html",
        _base(
            request,
            centre=centre,
            day=day,
            d=detail,
            s=s,
            flags=flags,
            can_close=day <= timezone.localdate(),
            deposit_errors=deposit_errors or {},
            deposit=values,
            terms_text=reports.terms_text(centre, currency),
        ),
        status=status,
    )


@require_GET
@require_perms(VIEW)
def day(request: HttpRequest, code: str, day: str) -> HttpResponse:
    centre = get_object_or_404(Centre, code=code)
    on = _date(day)
    if on is None:
        raise Http404
    return _day_page(request, centre, on)


@require_GET
@require_perms(VIEW)
def settlements(request: HttpRequest) -> HttpResponse:
    centre = _centre_or_none(request.GET.get("centro"))
    date_from = _date(request.GET.get("desde"))
    date_to = _date(request.GET.get("hasta"))
    status = request.GET.get("estado", "")
    flag = request.GET.get("marca", "")
    cursor = None
    raw = request.GET.get("antes", "")
    if ":" in raw:
        d, _sep, pk = raw.partition(":")
        if _date(d) and pk.isdigit():
            cursor = (_date(d), int(pk))
    rows, nxt = reports.settlement_rows(
        centre=centre,
        date_from=date_from,
        date_to=date_to,
        status=status if status in SettlementStatus.values else None,
        flag=flag if flag in reports.FLAGS else None,
        limit=PAGE,
        before=cursor,  # type: ignore[arg-type]
    )
    unclosed, unclosed_count = reports.unclosed_days(limit=20)
    return render(
        request,
        "collection/office_settlements.html",
        _base(
            request,
            rows=rows,
            next_cursor=f"{nxt[0].isoformat()}:{nxt[1]}" if nxt else None,
            centres=Centre.objects.order_by("code"),
            statuses=SettlementStatus.choices,
            flags=[
                ("problem", _("Con observaciones")),
                ("late", _("Depósito vencido o tardío")),
                ("difference", _("Depósito con diferencia")),
                ("undeposited", _("Sin depósito registrado")),
                ("outside", _("Pagos fuera de la liquidación")),
            ],
            f={
                "centro": centre.code if centre else "",
                "desde": date_from.isoformat() if date_from else "",
                "hasta": date_to.isoformat() if date_to else "",
                "estado": status,
                "marca": flag,
            },
            unclosed=unclosed,
            unclosed_count=unclosed_count,
            yesterday=(timezone.localdate() - timedelta(days=1)).isoformat(),
            now=timezone.now(),
        ),
    )


@require_POST
@require_perms(SUPERVISE)
def close_day(request: HttpRequest) -> HttpResponse:
    centre = _centre_or_none(request.POST.get("centro"))
    on = _date(request.POST.get("dia"))
    if centre is None or on is None:
        messages.error(request, _("Indique el centro y el día (AAAA-MM-DD) a liquidar."))
        return redirect("collection-settlements")
    try:
        s = do_close_day(centre, on, actor=request.user)
    except errors.PaymentRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Día %(d)s de %(c)s liquidado: %(n)s pagos.")
            % {"d": on.strftime("%d/%m/%Y"), "c": centre.code, "n": s.payments},
        )
    return redirect("collection-day", code=centre.code, day=on.isoformat())


@require_POST
@require_perms(SUPERVISE)
def deposit(request: HttpRequest, pk: int) -> HttpResponse:
    s = get_object_or_404(DailySettlement.objects.select_related("centre"), pk=pk)
    currency = get_utility(request).currency
    values = {k: request.POST.get(k, "").strip() for k in ("monto", "fecha", "hora", "referencia")}
    errs: dict[str, str] = {}
    amount = None
    try:
        amount = parse_amount(values["monto"], currency)
        if amount < 0:
            errs["monto"] = _("El depósito no puede ser negativo.")
    except MoneyError:
        errs["monto"] = _(
            "Escriba el importe depositado con hasta %(n)s decimales, sin separador de miles "
            "(p. ej. 1234.50)."
        ) % {"n": exponent(currency)}
    on = _date(values["fecha"])
    if on is None:
        errs["fecha"] = _("Indique la fecha del depósito.")
    try:
        at = time.fromisoformat(values["hora"]) if values["hora"] else None
    except ValueError:
        at = None
    if at is None:
        errs["hora"] = _("Indique la hora del depósito (HH:MM).")
    if not values["referencia"]:
        errs["referencia"] = _("Indique el número de operación del depósito.")
    when = None
    if on is not None and at is not None:
        when = timezone.make_aware(datetime.combine(on, at))
        if when > timezone.now() + DEPOSIT_CLOCK_SKEW:
            errs["fecha"] = _("La fecha y hora del depósito no pueden ser posteriores a ahora.")
    if not errs and amount is not None and when is not None:
        try:
            got = do_register_deposit(
                s,
                amount=amount,
                deposited_at=when,
                reference=values["referencia"],
                actor=request.user,
            )
        except errors.PaymentRefused as exc:
            errs["fecha"] = str(exc)
        else:
            labels = dict(SettlementStatus.choices)
            messages.success(
                request,
                _("Depósito registrado. Estado: %(s)s.")
                % {"s": labels.get(got.status, got.status)},
            )
            return redirect("collection-day", code=s.centre.code, day=s.day.isoformat())
    return _day_page(
        request, s.centre, s.day, deposit_errors=errs, deposit_values=values, status=422
    )


# --- files and reconnections ----------------------------------------------------------


@require_GET
@require_perms(VIEW)
def files(request: HttpRequest) -> HttpResponse:
    qs = PaymentFile.objects.select_related("centre", "imported_by").order_by("-pk")
    centre = _centre_or_none(request.GET.get("centro"))
    if centre is not None:
        qs = qs.filter(centre=centre)
    fmt = request.GET.get("formato", "")
    if fmt in FileFormat.values:
        qs = qs.filter(format=fmt)
    before = request.GET.get("antes", "")
    if before.isdigit():
        qs = qs.filter(pk__lt=int(before))
    rows = list(qs[: PAGE + 1])
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return render(
        request,
        "collection/office_files.html",
        _base(
            request,
            rows=rows,
            page={"next_cursor": rows[-1].pk if more and rows else None},
            centres=Centre.objects.order_by("code"),
            formats=FileFormat.choices,
            f={"centro": centre.code if centre else "", "formato": fmt},
        ),
    )


@require_GET
@require_perms(VIEW)
def reconnections(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("ver", "pendientes")
    qs = ReconnectionDue.objects.select_related(
        "account__customer", "account__property", "payment__centre"
    ).order_by("-pk")
    if show != "todas":
        qs = qs.filter(handled_at__isnull=True)
    before = request.GET.get("antes", "")
    if before.isdigit():
        qs = qs.filter(pk__lt=int(before))
    rows = list(qs[: PAGE + 1])
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return render(
        request,
        "collection/office_reconnections.html",
        _base(
            request,
            rows=rows,
            show=show,
            pending=ReconnectionDue.objects.filter(handled_at__isnull=True).count(),
            page={"next_cursor": rows[-1].pk if more and rows else None},
        ),
    )


# --- reports --------------------------------------------------------------------------


def _last_month() -> Period:
    return Period.containing(timezone.localdate()).previous()


@require_GET
@require_perms(VIEW)
def reports_index(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    return render(
        request,
        "collection/office_reports.html",
        _base(
            request,
            centres=Centre.objects.order_by("code"),
            last_month=_last_month().code,
            this_month=Period.containing(today).code,
            month_start=today.replace(day=1).isoformat(),
            today=today.isoformat(),
            dimensions=reports.dimension_labels(),
            kinds=CentreKind.choices,
        ),
    )


def _commission_items(
    request: HttpRequest,
) -> tuple[Period, Centre | None, list[reports.CommissionReport]]:
    month = _month(request.GET.get("mes"), _last_month())
    code = request.GET.get("centro", "")
    centre = _centre_or_none(code)
    if code and centre is None:
        raise Http404
    if centre is not None:
        return month, centre, [reports.commission_report(centre, month)]
    chosen = reports.active_centres(month) or list(
        Centre.objects.filter(active=True).order_by("code")
    )
    return month, None, [reports.commission_report(c, month) for c in chosen]


@require_GET
@require_perms(VIEW)
def commission(request: HttpRequest) -> HttpResponse:
    month, centre, items = _commission_items(request)
    return render(
        request,
        "collection/office_commission.html",
        _base(
            request,
            month=month,
            month_label=reports.month_label(month),
            centre=centre,
            items=items,
            centres=Centre.objects.order_by("code"),
            query=f"mes={month.code}" + (f"&centro={centre.code}" if centre else ""),
        ),
    )


def _commission_file(request: HttpRequest, fmt: str) -> HttpResponse:
    month, centre, items = _commission_items(request)
    if not items:
        messages.error(request, _("No hay centros de recaudo registrados."))
        return redirect("collection-commission")
    name = f"comisiones_{month.code}" + (f"_{centre.code}" if centre else "")
    if fmt == "pdf":
        return _download(reports.commission_pdf(items), f"{name}.pdf", "application/pdf")
    return _download(reports.commission_xlsx(items), f"{name}.xlsx", XLSX)


@require_GET
@require_perms(VIEW)
def commission_pdf(request: HttpRequest) -> HttpResponse:
    return _commission_file(request, "pdf")


@require_GET
@require_perms(VIEW)
def commission_xlsx(request: HttpRequest) -> HttpResponse:
    return _commission_file(request, "xlsx")


def _recaudo_params(request: HttpRequest) -> dict[str, Any]:
    today = timezone.localdate()
    date_from = _date(request.GET.get("desde")) or today.replace(day=1)
    date_to = _date(request.GET.get("hasta")) or today
    by = request.GET.get("por", "channel")
    if by not in reports.DIMENSIONS:
        by = "channel"
    kind = request.GET.get("tipo", "")
    return {
        "date_from": date_from,
        "date_to": date_to,
        "by": by,
        "centre": _centre_or_none(request.GET.get("centro")),
        "kind": kind if kind in CentreKind.values else None,
    }


@require_GET
@require_perms(VIEW)
def recaudo(request: HttpRequest) -> HttpResponse:
    p = _recaudo_params(request)
    problem = ""
    try:
        daily = reports.recaudo(
            p["date_from"], p["date_to"], p["by"], centre=p["centre"], kind=p["kind"]
        )
    except DomainError as exc:
        problem = str(exc)
        daily = reports.recaudo(p["date_to"], p["date_to"], p["by"])
    groups = reports.by_group(daily)
    group_rows = list(groups.iter_rows(named=True))
    keys = sorted(groups["key"].to_list())
    names = dict(zip(groups["key"], groups["label"], strict=True))
    days = reports.pivot_days(daily, keys)
    monthly = reports.by_month(daily)
    total_amount = int(daily["amount"].sum() or 0)
    total_payments = int(daily["payments"].sum() or 0)
    column_totals = [sum(amounts[i] for _d, amounts, _t in days) for i in range(len(keys))]
    query = request.GET.urlencode()
    return render(
        request,
        "collection/office_recaudo.html",
        _base(
            request,
            p=p,
            problem=problem,
            dimension=reports.dimension_labels()[p["by"]],
            dimensions=reports.dimension_labels(),
            kinds=CentreKind.choices,
            centres=Centre.objects.order_by("code"),
            groups=group_rows,
            columns=[(k if p["by"] in ("centre", "zone") else names[k], names[k]) for k in keys],
            days=days,
            column_totals=column_totals,
            months=list(monthly.iter_rows(named=True)) if monthly["month"].n_unique() > 1 else [],
            total_amount=total_amount,
            total_payments=total_payments,
            day_count=len(days),
            average=total_amount // len(days) if days else 0,
            query=query,
            pdf_month=Period.containing(p["date_from"]).code,
        ),
    )


@require_GET
@require_perms(VIEW)
def recaudo_xlsx(request: HttpRequest) -> HttpResponse:
    p = _recaudo_params(request)
    try:
        daily = reports.recaudo(
            p["date_from"], p["date_to"], p["by"], centre=p["centre"], kind=p["kind"]
        )
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("collection-recaudo") + "?" + request.GET.urlencode())
    data = reports.recaudo_xlsx(
        daily,
        by=p["by"],
        date_from=p["date_from"],
        date_to=p["date_to"],
        currency=get_utility(request).currency,
    )
    name = f"recaudo_{p['by']}_{p['date_from'].isoformat()}_{p['date_to'].isoformat()}.xlsx"
    return _download(data, name, XLSX)


@require_GET
@require_perms(VIEW)
def recaudo_pdf(request: HttpRequest) -> HttpResponse:
    month = _month(request.GET.get("mes"), _last_month())
    kind = request.GET.get("tipo", "")
    report = reports.recaudo_month(
        month,
        centre=_centre_or_none(request.GET.get("centro")),
        kind=kind if kind in CentreKind.values else None,
    )
    return _download(
        reports.recaudo_month_pdf(report), f"recaudo_{month.code}.pdf", "application/pdf"
    )
