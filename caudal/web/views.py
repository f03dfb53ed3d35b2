"""The pages of Caudal's web front. Every view checks a role permission (see ``permissions``)."""

from __future__ import annotations

import csv
from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.models import Group
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from caudal.audit.models import AuditEvent
from caudal.audit.roles import role_label
from caudal.kernel.money import to_major
from caudal.ledger import queries

from . import account360, audit_display
from . import permissions as p
from . import search as search_mod
from .context_processors import get_utility
from .permissions import require_perms

STATEMENT_PAGE = 100
AUDIT_PAGE = 50


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _currency(request: HttpRequest) -> str:
    return get_utility(request).currency


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Office staff: the search box and their own recent activity. Field staff: a landing."""
    user = request.user
    if not user.has_perm(p.SEARCH):
        return render(request, "web/home_field.html", {"nav": "home"})
    recent = list(
        AuditEvent.objects.filter(actor=user).order_by("-at", "-id")[:8]  # type: ignore[misc]
    )
    return render(
        request,
        "web/home.html",
        {"recent": audit_display.rows(recent, _currency(request)), "nav": "home"},
    )


@require_GET
@require_perms(p.SEARCH)
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    partial = (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )
    if not partial:
        exact = search_mod.exact_account(query)
        if exact is not None and request.user.has_perm(p.ACCOUNT_360):
            return redirect("account-detail", number=exact.number)
    results = search_mod.search(query)
    context = {"q": results.query, "results": results, "limit": search_mod.LIMIT}
    template = "web/_search_results.html" if partial else "web/search.html"
    response = render(request, template, {**context, "nav": "search-page"})
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
@require_perms(p.ACCOUNT_360)
def account_detail(request: HttpRequest, number: str) -> HttpResponse:
    as_of_text = request.GET.get("al", "")
    as_of = _parse_date(as_of_text)
    today = timezone.localdate()
    if as_of is not None and as_of > today:
        as_of = None
    view = account360.load(number, as_of=as_of)
    currency = _currency(request)
    return render(
        request,
        "web/account_detail.html",
        {
            "v": view,
            "account": view.account,
            "as_of_text": as_of_text,
            "as_of_invalid": bool(as_of_text) and as_of is None,
            "audit_rows": audit_display.rows(view.audit, currency),
            "audit_more": len(view.audit) >= account360.AUDIT_ROWS,
            "nav": "search",
        },
    )


def _statement_range(request: HttpRequest) -> tuple[date | None, date | None]:
    return _parse_date(request.GET.get("desde")), _parse_date(request.GET.get("hasta"))


@require_GET
@require_perms(p.ACCOUNT_360)
def account_statement(request: HttpRequest, number: str) -> HttpResponse:
    account = account360.get_account(number)
    start, end = _statement_range(request)
    rows = queries.statement(account.pk, start=start, end=end)
    page = Paginator(rows, STATEMENT_PAGE).get_page(request.GET.get("pagina"))
    return render(
        request,
        "web/account_statement.html",
        {
            "account": account,
            "page": page,
            "start": start,
            "end": end,
            "kind_labels": account360.kind_labels(),
            "total_rows": len(rows),
            "closing": rows[-1].running_balance if rows else 0,
            "nav": "search",
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@require_perms(p.ACCOUNT_360, p.EXPORT_STATEMENT)
def account_statement_csv(request: HttpRequest, number: str) -> StreamingHttpResponse:
    """The full statement as CSV (UTF-8 with BOM and ``;`` so Excel in Spanish opens it)."""
    account = account360.get_account(number)
    start, end = _statement_range(request)
    rows = queries.statement(account.pk, start=start, end=end)
    currency = _currency(request)
    labels = account360.kind_labels()
    writer = csv.writer(_Echo(), delimiter=";")

    decimal_sep = "," if currency == "COP" else "."

    def money(minor: int) -> str:
        """Plain decimal, no thousands separator: spreadsheets read it as a number."""
        return str(to_major(minor, currency)).replace(".", decimal_sep)

    def lines():  # type: ignore[no-untyped-def]
        yield "\ufeff"
        yield writer.writerow(
            [
                _("Date"),
                _("Document"),
                _("Type"),
                _("Reference"),
                _("Description"),
                _("Debit"),
                _("Credit"),
                _("Balance"),
            ]
        )
        for r in rows:
            yield writer.writerow(
                [
                    r.date.isoformat(),
                    r.document_id or "",
                    labels.get(r.kind, r.kind),
                    r.reference,
                    r.description,
                    money(r.debit) if r.debit else "",
                    money(r.credit) if r.credit else "",
                    money(r.running_balance),
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    suffix = (
        f"_{start.isoformat() if start else ''}_{end.isoformat() if end else ''}"
        if (start or end)
        else ""
    )
    response["Content-Disposition"] = (
        f'attachment; filename="estado-de-cuenta_{account.number}{suffix}.csv"'
    )
    return response


@require_GET
@require_perms(p.ACCOUNT_360)
def account_audit(request: HttpRequest, number: str) -> HttpResponse:
    account = account360.get_account(number)
    page = audit_display.keyset_page(
        AuditEvent.objects.filter(account_id=account.pk),
        request.GET.get("antes"),
        AUDIT_PAGE,
        _currency(request),
    )
    return render(
        request, "web/account_audit.html", {"account": account, "page": page, "nav": "search"}
    )


@require_GET
@require_perms(p.AUDIT_TRAIL)
def user_list(request: HttpRequest) -> HttpResponse:
    users = (
        get_user_model()
        .objects.order_by("username")
        .prefetch_related(Prefetch("groups", queryset=Group.objects.order_by("name")))
    )
    rows = [(u, [role_label(g.name) for g in u.groups.all()]) for u in users]
    return render(request, "web/user_list.html", {"rows": rows, "nav": "audit"})


@require_GET
@require_perms(p.AUDIT_TRAIL)
def user_audit(request: HttpRequest, username: str) -> HttpResponse:
    subject = get_object_or_404(get_user_model(), username=username)
    page = audit_display.keyset_page(
        AuditEvent.objects.filter(actor=subject),  # type: ignore[misc]
        request.GET.get("antes"),
        AUDIT_PAGE,
        _currency(request),
    )
    roles = [role_label(name) for name in subject.groups.values_list("name", flat=True)]  # type: ignore[attr-defined]
    accounts = dict(
        account360.Account.objects.filter(
            pk__in={r.event.account_id for r in page.rows if r.event.account_id}
        ).values_list("pk", "number")
    )
    return render(
        request,
        "web/user_audit.html",
        {
            "subject": subject,
            "roles": roles,
            "page": page,
            "accounts": accounts,
            "nav": "audit",
        },
    )
