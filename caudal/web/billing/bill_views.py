"""Bills on the web: one bill (page and PDF) and the print batch of a route.

- ``/facturas/<number>/``: the bill as a page (charges, readings, notices) with links to
  its PDF; ``billing.view_bills`` (every office role).
- ``/facturas/<number>.pdf``: the bill's PDF, shown in the browser; ``?descargar=1``
  downloads it. ``billing.view_bills``.
- ``/facturas/lote/``: the print batch form (a period, then its routes with their bill
  counts); ``?period=P&route=R`` answers the route's batch PDF, bills in route sequence
  order. ``billing.print_bills``. A route of more than ``MAX_WEB_BATCH`` bills is refused
  with a pointer to ``caudal print-bills``, which writes large batches without holding a
  web worker.
"""

from __future__ import annotations

import re

from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from caudal.billing.document import (
    BillDocumentError,
    current_bills,
    pages_for,
    render_batch_result,
    render_bill,
)
from caudal.billing.models import Bill
from caudal.cadastre.models import Route
from caudal.kernel.periods import Period

from ..context_processors import get_utility
from ..permissions import require_perms

VIEW_BILLS = "billing.view_bills"
PRINT_BILLS = "billing.print_bills"
MAX_WEB_BATCH = 600  # about 0.6 GB of memory and 2 CPU-minutes for the worker
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def _get_bill(number: str) -> Bill:
    bill = Bill.objects.filter(number=number).first()
    if bill is None:
        raise Http404(number)
    return bill


def _pdf_response(pdf: bytes, filename: str, *, download: bool) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{_SAFE.sub("_", filename)}.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _error(request: HttpRequest, message: str, *, status: int = 409) -> HttpResponse:
    return render(
        request,
        "web/billing/bill_error.html",
        {"message": message, "nav": "search"},
        status=status,
    )


@require_GET
@require_perms(VIEW_BILLS)
def bill_detail(request: HttpRequest, number: str) -> HttpResponse:
    bill = _get_bill(number)
    utility = get_utility(request)
    try:
        (page,) = pages_for(bill, utility)
        problem = ""
    except BillDocumentError as exc:
        page, problem = None, str(exc)
    later = (
        Bill.objects.filter(replaces=bill).only("number").first() if bill.pk else None
    )  # a correction that replaces this bill
    return render(
        request,
        "web/billing/bill.html",
        {
            "bill": bill,
            "account": bill.account,
            "page": page,
            "problem": problem,
            "replaced_by": later,
            "nav": "search",
        },
    )


@require_GET
@require_perms(VIEW_BILLS)
def bill_pdf(request: HttpRequest, number: str) -> HttpResponse:
    bill = _get_bill(number)
    try:
        pdf = render_bill(bill)
    except BillDocumentError as exc:
        return _error(request, str(exc))
    return _pdf_response(pdf, f"recibo_{bill.number}", download=request.GET.get("descargar") == "1")


@require_GET
@require_perms(PRINT_BILLS)
def bill_batch(request: HttpRequest) -> HttpResponse:
    period_text = request.GET.get("period", "").strip()
    route_code = request.GET.get("route", "").strip()
    error = ""
    period: Period | None = None
    if period_text:
        try:
            period = Period.parse(period_text)
        except ValueError:
            error = _("Enter the period as YYYY-MM.")
    if period is not None and route_code:
        route = Route.objects.filter(code=route_code).first()
        bills = current_bills(period.code).filter(route=route) if route else None
        count = bills.count() if bills is not None else 0
        if route is None:
            error = _("There is no route %(route)s.") % {"route": route_code}
        elif count == 0:
            error = _("Route %(route)s has no bills for %(period)s.") % {
                "route": route.code,
                "period": period.code,
            }
        elif count > MAX_WEB_BATCH:
            error = _(
                "Route %(route)s has %(n)s bills: print it with the command "
                "caudal print-bills --period %(period)s --route %(route)s."
            ) % {"route": route.code, "n": count, "period": period.code}
        else:
            assert bills is not None
            try:
                result = render_batch_result(bills)
            except BillDocumentError as exc:
                return _error(request, str(exc))
            return _pdf_response(result.pdf, f"recibos_{period.code}_{route.code}", download=True)
    routes = []
    if period is not None:
        routes = list(
            current_bills(period.code)
            .values("route__code", "route__name", "route__cycle__code")
            .annotate(bills=Count("id"))
            .order_by("route__code")
        )
    shown = period.code if period is not None else timezone.localdate().strftime("%Y-%m")
    return render(
        request,
        "web/billing/bill_batch.html",
        {
            "period": period,
            "period_value": period_text or shown,
            "routes": routes,
            "error": error,
            "max_batch": MAX_WEB_BATCH,
            "nav": "billing",
        },
        status=400 if error else 200,
    )
