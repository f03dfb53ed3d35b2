"""Testigos de cartera of a snapshot: the page and the downloads.

Permissions:

- ``portfolio.view_cartera``: the page (accounts and value of the Testigo de Cartera
  Vigente and Vencida of a cut-off date);
- ``portfolio.take_snapshots``: the downloads (XLSX, CSV, Parquet). A testigo lists every
  account with its holder and address: personal data, so each download is recorded in the
  audit trail (who, which testigo, which format).
"""

from __future__ import annotations

from datetime import date

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from caudal.portfolio import testigos

from ..context_processors import get_utility
from ..permissions import require_perms

VIEW = "portfolio.view_cartera"
DOWNLOAD = "portfolio.take_snapshots"
FORMAT_LABELS = {"xlsx": "XLSX", "csv": "CSV", "parquet": "Parquet"}


def _day(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise Http404 from exc
    try:
        testigos.accounts_file(day)
    except testigos.TestigoError as exc:
        raise Http404(str(exc)) from exc
    return day


@require_GET
@require_perms(VIEW)
def testigo_list(request: HttpRequest, day: str) -> HttpResponse:
    on = _day(day)
    totals = testigos.totals_by_testigo(on)
    cache = testigos.folder_for(on) / testigos.CACHE_DIR
    rows = []
    for which in testigos.WHICH:
        rows.append(
            {
                "which": which,
                "title": testigos.title(which),
                "totals": totals[which],
                "downloads": [
                    {
                        "fmt": fmt,
                        "label": FORMAT_LABELS[fmt],
                        "ready": fmt == "csv"
                        or (cache / testigos.filename(on, which, fmt)).is_file(),
                    }
                    for fmt in testigos.FORMATS
                ],
            }
        )
    everything = testigos.Totals(
        sum(t.accounts for t in totals.values()),
        sum(t.balance for t in totals.values()),
        sum(t.overdue for t in totals.values()),
        sum(t.blocked for t in totals.values()),
    )
    return render(
        request,
        "portfolio/testigo_list.html",
        {
            "nav": "cartera",
            "on": on,
            "day": on.isoformat(),
            "rows": rows,
            "all": everything,
            "currency": get_utility(request).currency,
            "can_download": request.user.has_perm(DOWNLOAD),
            "sheet_rows": testigos.SHEET_ROWS,
        },
    )


@require_GET
@require_perms(DOWNLOAD)
def testigo_download(request: HttpRequest, day: str, which: str, fmt: str) -> HttpResponse:
    on = _day(day)
    try:
        testigos.check(which, fmt)
    except testigos.TestigoError as exc:
        raise Http404(str(exc)) from exc
    name = testigos.filename(on, which, fmt)
    accounts = testigos.totals_by_testigo(on)[which].accounts
    testigos.do_record_download(on, which, fmt, actor=request.user, accounts=accounts)
    response: HttpResponse
    if fmt == "csv":
        response = StreamingHttpResponse(  # type: ignore[assignment]
            testigos.stream_testigo(on, which, fmt), content_type=testigos.CONTENT_TYPES[fmt]
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    else:
        path = testigos.testigo_file(on, which, fmt)
        response = FileResponse(  # type: ignore[assignment]
            path.open("rb"),
            as_attachment=True,
            filename=name,
            content_type=testigos.CONTENT_TYPES[fmt],
        )
    response["Cache-Control"] = "private, no-store"
    return response
