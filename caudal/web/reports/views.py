"""Management report pages under ``/informes/``.

Permissions:

- ``reports.view_reports``: the list of published reports, a published report's page, its
  archived PDF and XLSX annex (collections officer, auditor and every cartera role);
- the workflow roles (``reports.draft_reports``, ``review_reports``, ``approve_reports``)
  also see reports that are not published yet, their draft PDF ("BORRADOR") and annex;
- ``reports.draft_reports``: new report, conclusions and recommendations while the report
  is a draft or returned, submit, publish; ``review_reports``: forward or return a report in
  review; ``approve_reports``: approve or return a reviewed report, publish. The buttons a
  user sees are the ones their permissions and the report's state allow; the actions check
  both again.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from caudal.kernel.errors import DomainError
from caudal.portfolio.models import Snapshot, SnapshotStatus
from caudal.reports import actions
from caudal.reports.content import build_content
from caudal.reports.models import ManagementReport, ReportKind, ReportStatus, ReportStep
from caudal.reports.render import chart_svgs, figure_views, report_pdf, report_xlsx, table_view

from ..permissions import require_perms

VIEW = actions.VIEW
DRAFT = actions.DRAFT
REVIEW = actions.REVIEW
APPROVE = actions.APPROVE
WORKFLOW = (DRAFT, REVIEW, APPROVE)
PAGE = 50
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

STATUS_TONES = {
    ReportStatus.DRAFT: "plain",
    ReportStatus.IN_REVIEW: "info",
    ReportStatus.REVIEWED: "info",
    ReportStatus.RETURNED: "warn",
    ReportStatus.APPROVED: "ok",
    ReportStatus.PUBLISHED: "ok",
}


# --- helpers ----------------------------------------------------------------------------


def in_workflow(user: Any) -> bool:
    return any(user.has_perm(p) for p in WORKFLOW)


def visible_reports(user: Any) -> QuerySet[ManagementReport]:
    qs = ManagementReport.objects.select_related("snapshot", "created_by", "published_by")
    if in_workflow(user):
        return qs
    return qs.filter(status=ReportStatus.PUBLISHED)


def pending_filter(user: Any) -> Q | None:
    """The reports waiting for this user's role (None: nothing is ever theirs)."""
    q = Q(pk__in=[])
    if user.has_perm(DRAFT):
        q |= Q(status__in=[ReportStatus.DRAFT, ReportStatus.RETURNED], created_by=user)
        q |= Q(status=ReportStatus.APPROVED)
    if user.has_perm(REVIEW):
        q |= Q(status=ReportStatus.IN_REVIEW)
    if user.has_perm(APPROVE):
        q |= Q(status__in=[ReportStatus.REVIEWED, ReportStatus.APPROVED])
    return q if in_workflow(user) else None


def _report(request: HttpRequest, pk: int) -> ManagementReport:
    report = get_object_or_404(visible_reports(request.user), pk=pk)
    return report


def _download(data: bytes, name: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _file_name(report: ManagementReport, ext: str) -> str:
    return f"informe-{report.kind}-{report.snapshot.date.isoformat()}-r{report.revision}.{ext}"


def available_steps(report: ManagementReport, user: Any) -> list[dict[str, Any]]:
    """The workflow buttons this user may press on this report now."""
    s = report.status
    steps: list[dict[str, Any]] = []
    if s in actions.EDITABLE and user.has_perm(DRAFT):
        steps.append({"code": "submit", "label": _("Enviar a revisión"), "primary": True})
    if s == ReportStatus.IN_REVIEW and user.has_perm(REVIEW):
        steps.append({"code": "forward", "label": _("Revisado: enviar a aprobación")})
        steps.append({"code": "return", "label": _("Devolver con observaciones")})
    if s == ReportStatus.REVIEWED and user.has_perm(APPROVE):
        steps.append({"code": "approve", "label": _("Aprobar"), "primary": True})
        steps.append({"code": "return", "label": _("Devolver con observaciones")})
    if s == ReportStatus.APPROVED and (user.has_perm(APPROVE) or user.has_perm(DRAFT)):
        steps.append({"code": "publish", "label": _("Publicar"), "primary": True})
    return steps


# --- list and new -----------------------------------------------------------------------


@require_GET
@require_perms(VIEW)
def report_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    qs = visible_reports(user)
    status = request.GET.get("estado", "")
    kind = request.GET.get("tipo", "")
    mine = request.GET.get("pendientes") == "1"
    if status in ReportStatus.values:
        qs = qs.filter(status=status)
    if kind in ReportKind.values:
        qs = qs.filter(kind=kind)
    pending = pending_filter(user)
    if mine and pending is not None:
        qs = qs.filter(pending)
    pending_count = visible_reports(user).filter(pending).count() if pending is not None else 0
    page = Paginator(qs.order_by("-snapshot__date", "kind", "-pk"), PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "reports/list.html",
        {
            "nav": "reports",
            "page": page,
            "reports": page.object_list,
            "statuses": ReportStatus.choices if in_workflow(user) else [],
            "kinds": ReportKind.choices,
            "status": status,
            "kind": kind,
            "mine": mine,
            "pending_count": pending_count,
            "can_draft": user.has_perm(DRAFT),
            "workflow": in_workflow(user),
            "tones": STATUS_TONES,
        },
    )


@require_http_methods(["GET", "POST"])
@require_perms(DRAFT)
def report_new(request: HttpRequest) -> HttpResponse:
    snapshots = Snapshot.objects.filter(status=SnapshotStatus.DONE).order_by("-date")[:36]
    values = {
        "kind": request.POST.get("kind", request.GET.get("tipo", ReportKind.MONTHLY)),
        "snapshot": request.POST.get("snapshot", request.GET.get("corte", "")),
        "title": request.POST.get("title", ""),
        "recipients": request.POST.get("recipients", ""),
    }
    error = ""
    if request.method == "POST":
        snapshot_id = values["snapshot"]
        snapshot = (
            Snapshot.objects.filter(pk=int(snapshot_id)).first() if snapshot_id.isdigit() else None
        )
        if snapshot is None:
            error = _("Elija el corte de cartera del informe.")
        else:
            try:
                report = actions.do_create_report(
                    values["kind"],
                    snapshot,
                    actor=request.user,
                    title=values["title"],
                    recipients=values["recipients"],
                )
            except DomainError as exc:
                error = str(exc)
            else:
                messages.success(request, _("Informe creado como borrador."))
                return redirect("report-detail", pk=report.pk)
    existing = {
        (r.kind, r.snapshot_id): r
        for r in ManagementReport.objects.filter(snapshot__in=list(snapshots))
    }
    return render(
        request,
        "reports/new.html",
        {
            "nav": "reports",
            "kinds": ReportKind.choices,
            "snapshots": snapshots,
            "values": values,
            "error": error,
            "existing": existing,
        },
        status=400 if error else 200,
    )


# --- the report -------------------------------------------------------------------------


@require_GET
@require_perms(VIEW)
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    user = request.user
    content = None
    content_error = ""
    try:
        content = build_content(report.kind, report.snapshot)
    except DomainError as exc:
        content_error = str(exc)
    charts = []
    if content is not None:
        charts = [(title, mark_safe(svg)) for title, svg in chart_svgs(content)]  # noqa: S308 - escaped by charts
    steps = ReportStep.objects.filter(report=report).select_related("actor")
    editable = report.status in actions.EDITABLE and user.has_perm(DRAFT)
    return render(
        request,
        "reports/detail.html",
        {
            "nav": "reports",
            "report": report,
            "content": content,
            "content_error": content_error,
            "figures": figure_views(content) if content else [],
            "tables": [table_view(t, content.currency) for t in content.tables] if content else [],
            "charts": charts,
            "steps": steps,
            "editable": editable,
            "workflow_steps": available_steps(report, user),
            "workflow": in_workflow(user),
            "tone": STATUS_TONES.get(ReportStatus(report.status), "plain"),
            "published": report.status == ReportStatus.PUBLISHED,
        },
    )


@require_POST
@require_perms(DRAFT)
def report_edit(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    try:
        actions.do_edit_report(
            report,
            request.POST.get("conclusions", ""),
            request.POST.get("recommendations", ""),
            actor=request.user,
            title=request.POST.get("title"),
            recipients=request.POST.get("recipients"),
        )
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Cambios guardados (revisión %(r)s).") % {"r": report.revision})
    return redirect("report-detail", pk=report.pk)


STEP_ACTIONS = {
    "submit": (actions.do_submit, _("Informe enviado a revisión.")),
    "forward": (actions.do_forward, _("Informe revisado y enviado a aprobación.")),
    "approve": (actions.do_approve, _("Informe aprobado.")),
    "publish": (actions.do_publish, _("Informe publicado y archivado.")),
}


@require_POST
@require_perms(VIEW)
def report_step(request: HttpRequest, pk: int) -> HttpResponse:
    """One workflow step (``step`` = submit | forward | return | approve | publish); the
    action checks the permission and the state."""
    if not in_workflow(request.user):
        raise PermissionDenied
    report = _report(request, pk)
    step = request.POST.get("step", "")
    comment = request.POST.get("comment", "").strip()
    try:
        if step == "return":
            actions.do_return(report, comment, actor=request.user)
            done = _("Informe devuelto con observaciones.")
        elif step in STEP_ACTIONS:
            action, done = STEP_ACTIONS[step]
            action(report, actor=request.user, comment=comment)
        else:
            raise Http404
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, str(done))
    return redirect("report-detail", pk=report.pk)


# --- files ------------------------------------------------------------------------------


@require_GET
@require_perms(VIEW)
def report_pdf_view(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The PDF as it stands (with the "BORRADOR" watermark); a published report's is the
    archived file."""
    report = _report(request, pk)
    if report.status == ReportStatus.PUBLISHED:
        return redirect("report-archive", pk=report.pk)
    try:
        data = report_pdf(report)
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("report-detail", pk=report.pk)
    response = HttpResponse(data, content_type=PDF)
    response["Content-Disposition"] = f'inline; filename="{_file_name(report, "pdf")}"'
    return response


@require_GET
@require_perms(VIEW)
def report_xlsx_view(request: HttpRequest, pk: int) -> HttpResponseBase:
    report = _report(request, pk)
    if report.status == ReportStatus.PUBLISHED:
        path = actions.archived_path(report, "xlsx")
        if path is None or not path.exists():
            raise Http404(_("El anexo archivado no está disponible."))
        return FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=_file_name(report, "xlsx"),
            content_type=XLSX,
        )
    try:
        data = report_xlsx(report)
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("report-detail", pk=report.pk)
    return _download(data, _file_name(report, "xlsx"), XLSX)


@require_GET
@require_perms(VIEW)
def report_archive(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The archived PDF of a published report, checked against its SHA-256."""
    report = _report(request, pk)
    if report.status != ReportStatus.PUBLISHED:
        raise Http404(_("El informe no está publicado."))
    path = actions.archived_path(report)
    if path is None or not path.exists():
        raise Http404(_("El PDF archivado no está disponible."))
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != report.pdf_sha256:
        return HttpResponse(
            _("El PDF archivado no coincide con su SHA-256: avise al administrador."),
            status=409,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(data, content_type=PDF)
    response["Content-Disposition"] = f'inline; filename="{_file_name(report, "pdf")}"'
    response["X-Content-SHA256"] = report.pdf_sha256
    return response
