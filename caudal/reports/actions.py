"""Every write on management reports: create, edit, and the review / approval workflow.

Each ``do_*`` action checks the actor's permission (``PermissionDenied`` with the reason),
locks the report row (``select_for_update``), checks the state (``DomainError`` saying
what the state allows), writes, adds a :class:`~caudal.reports.models.ReportStep` for a
transition, and records an audit event — all in one transaction.

Workflow and who may do what (permissions of ``caudal.audit.roles``)::

    create, edit, submit        reports.draft_reports    (analyst; draft / returned only)
    forward, return in review   reports.review_reports   (coordinator)
    return when reviewed,
    approve                     reports.approve_reports  (director / manager)
    publish                     reports.approve_reports or reports.draft_reports

Publishing renders the final PDF (no watermark) and the XLSX annex, archives them under
``settings.CAUDAL_REPORT_DIR/<year>/`` read-only with the PDF's SHA-256, and, once the
transaction commits, e-mails the PDF to the report's ``recipients`` (comma, semicolon or
line separated) or, when it has none, to ``settings.CAUDAL_REPORT_RECIPIENTS``. A
published report never changes: every action refuses it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import record
from caudal.kernel.errors import DomainError
from caudal.portfolio.models import Snapshot, SnapshotStatus

from .models import ManagementReport, ReportKind, ReportStatus, ReportStep

log = logging.getLogger(__name__)

DRAFT = "reports.draft_reports"
REVIEW = "reports.review_reports"
APPROVE = "reports.approve_reports"
VIEW = "reports.view_reports"
EDITABLE = (ReportStatus.DRAFT, ReportStatus.RETURNED)
EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


class ReportError(DomainError):
    """A workflow step the report's state does not allow (the message says why)."""


# --- helpers ----------------------------------------------------------------------------


def _require(actor: Any, *perms: str, doing: str) -> None:
    """PermissionDenied unless the actor has at least one of ``perms``."""
    if actor is None or not any(actor.has_perm(p) for p in perms):
        raise PermissionDenied(
            _("No tiene permiso para %(doing)s un informe de gestión.") % {"doing": doing}
        )


def _refuse_published(report: ManagementReport) -> None:
    if report.status == ReportStatus.PUBLISHED:
        raise ReportError(
            _(
                "El informe «%(t)s» ya está publicado: un informe publicado no se puede "
                "modificar. Si hace falta corregirlo, elabore un informe nuevo."
            )
            % {"t": report.title}
        )


def _lock(report: ManagementReport) -> ManagementReport:
    locked = (
        ManagementReport.objects.select_for_update(of=("self",))
        .select_related("snapshot", "created_by")
        .get(pk=report.pk)
    )
    _refuse_published(locked)
    return locked


def _expect(report: ManagementReport, allowed: tuple[str, ...], doing: str) -> None:
    if report.status not in allowed:
        labels = ", ".join(str(ReportStatus(s).label).lower() for s in allowed)
        raise ReportError(
            _("No se puede %(doing)s: el informe está «%(now)s» y debe estar %(allowed)s.")
            % {
                "doing": doing,
                "now": ReportStatus(report.status).label,
                "allowed": labels,
            }
        )


def _state(report: ManagementReport) -> dict[str, Any]:
    return {"status": report.status, "revision": report.revision}


def _transition(
    report: ManagementReport,
    to: str,
    *,
    actor: Any,
    action: str,
    comment: str = "",
    extra_fields: tuple[str, ...] = (),
    after: dict[str, Any] | None = None,
) -> ReportStep:
    before = _state(report)
    from_status = report.status
    report.status = to
    report.save(update_fields=["status", "updated_at", *extra_fields])
    step = ReportStep.objects.create(
        report=report, from_status=from_status, to_status=to, comment=comment, actor=actor
    )
    record(
        actor=actor,
        action=action,
        object_type="reports.managementreport",
        object_id=report.pk,
        before=before,
        after={**_state(report), **(after or {})},
        reason=comment,
    )
    return step


def _sync(target: ManagementReport, source: ManagementReport) -> ManagementReport:
    """Copy the locked row's fields onto the caller's instance (so it sees the change)."""
    for f in ManagementReport._meta.concrete_fields:
        setattr(target, f.attname, getattr(source, f.attname))
    return target


def default_title(kind: str, snapshot: Snapshot) -> str:
    from .render import month_label

    return f"{ReportKind(kind).label} – {month_label(snapshot.date)}"


def parse_recipients(text: str) -> list[str]:
    """E-mail addresses in ``text`` (comma, semicolon, space or line separated); a
    malformed one is an error naming it."""
    out: list[str] = []
    for part in re.split(r"[,;\s]+", text or ""):
        if not part:
            continue
        if not EMAIL_RE.match(part):
            raise ReportError(_("«%(a)s» no es una dirección de correo válida.") % {"a": part})
        if part not in out:
            out.append(part)
    return out


def recipients_for(report: ManagementReport) -> list[str]:
    mine = parse_recipients(report.recipients)
    if mine:
        return mine
    configured = getattr(settings, "CAUDAL_REPORT_RECIPIENTS", []) or []
    if isinstance(configured, str):
        configured = parse_recipients(configured)
    return [str(a) for a in configured]


# --- create and edit --------------------------------------------------------------------


@transaction.atomic
def do_create_report(
    kind: str,
    snapshot: Snapshot,
    *,
    actor: Any,
    title: str = "",
    recipients: str = "",
) -> ManagementReport:
    """A draft report of ``kind`` on a finished snapshot (one per kind and snapshot)."""
    _require(actor, DRAFT, doing=_("elaborar"))
    if kind not in ReportKind.values:
        raise ReportError(_("Tipo de informe desconocido: «%(k)s».") % {"k": kind})
    if snapshot.status != SnapshotStatus.DONE:
        raise ReportError(
            _("El corte del %(d)s no está terminado: no se puede informar sobre él.")
            % {"d": snapshot.date.strftime("%d/%m/%Y")}
        )
    parse_recipients(recipients)
    existing = ManagementReport.objects.filter(kind=kind, snapshot=snapshot).first()
    if existing is not None:
        raise ReportError(
            _("Ya existe el informe «%(t)s» (%(s)s) para el corte del %(d)s.")
            % {
                "t": existing.title,
                "s": existing.get_status_display(),
                "d": snapshot.date.strftime("%d/%m/%Y"),
            }
        )
    title = (title or "").strip()[:200] or default_title(kind, snapshot)
    try:
        with transaction.atomic():
            report = ManagementReport.objects.create(
                kind=kind,
                snapshot=snapshot,
                title=title,
                created_by=actor,
                recipients=recipients.strip(),
            )
    except IntegrityError as exc:  # a concurrent create of the same report
        raise ReportError(
            _("Ya existe un informe de este tipo para el corte del %(d)s.")
            % {"d": snapshot.date.strftime("%d/%m/%Y")}
        ) from exc
    ReportStep.objects.create(
        report=report,
        from_status=ReportStatus.DRAFT,
        to_status=ReportStatus.DRAFT,
        comment=_("Informe creado."),
        actor=actor,
    )
    record(
        actor=actor,
        action="reports.create",
        object_type="reports.managementreport",
        object_id=report.pk,
        after={
            "kind": kind,
            "snapshot": snapshot.date.isoformat(),
            "title": title,
            **_state(report),
        },
    )
    return report


@transaction.atomic
def do_edit_report(
    report: ManagementReport,
    conclusions: str,
    recommendations: str,
    *,
    actor: Any,
    title: str | None = None,
    recipients: str | None = None,
) -> ManagementReport:
    """Conclusions, recommendations (and title, recipients) of a draft or returned
    report. A change bumps the revision; saving the same text changes nothing."""
    _require(actor, DRAFT, doing=_("editar"))
    locked = _lock(report)
    _expect(locked, EDITABLE, _("editar"))
    changes: dict[str, str] = {
        "conclusions": (conclusions or "").strip(),
        "recommendations": (recommendations or "").strip(),
    }
    if title is not None:
        changes["title"] = title.strip()[:200] or locked.title
    if recipients is not None:
        parse_recipients(recipients)
        changes["recipients"] = recipients.strip()
    changed = {k: v for k, v in changes.items() if getattr(locked, k) != v}
    if not changed:
        return _sync(report, locked)
    before = {k: getattr(locked, k) for k in changed}
    before["revision"] = locked.revision
    for k, v in changed.items():
        setattr(locked, k, v)
    locked.revision += 1
    locked.save(update_fields=[*changed, "revision", "updated_at"])
    record(
        actor=actor,
        action="reports.edit",
        object_type="reports.managementreport",
        object_id=locked.pk,
        before=before,
        after={**changed, "revision": locked.revision},
    )
    return _sync(report, locked)


# --- workflow ---------------------------------------------------------------------------


@transaction.atomic
def do_submit(report: ManagementReport, *, actor: Any, comment: str = "") -> ManagementReport:
    """Draft or returned → in review (the coordinator's turn). Needs conclusions."""
    _require(actor, DRAFT, doing=_("enviar a revisión"))
    locked = _lock(report)
    _expect(locked, EDITABLE, _("enviar a revisión"))
    if not locked.conclusions.strip():
        raise ReportError(_("Escriba las conclusiones del informe antes de enviarlo a revisión."))
    _transition(
        locked, ReportStatus.IN_REVIEW, actor=actor, action="reports.submit", comment=comment
    )
    return _sync(report, locked)


@transaction.atomic
def do_forward(report: ManagementReport, *, actor: Any, comment: str = "") -> ManagementReport:
    """In review → reviewed: the coordinator sends it to the director for approval."""
    _require(actor, REVIEW, doing=_("revisar"))
    locked = _lock(report)
    _expect(locked, (ReportStatus.IN_REVIEW,), _("dar por revisado"))
    _transition(
        locked, ReportStatus.REVIEWED, actor=actor, action="reports.forward", comment=comment
    )
    return _sync(report, locked)


@transaction.atomic
def do_return(report: ManagementReport, comment: str, *, actor: Any) -> ManagementReport:
    """In review (coordinator) or reviewed (director) → returned, with observations."""
    if not (comment or "").strip():
        raise ReportError(_("Escriba las observaciones para devolver el informe."))
    if actor is None or not (actor.has_perm(REVIEW) or actor.has_perm(APPROVE)):
        raise PermissionDenied(_("No tiene permiso para devolver un informe de gestión."))
    locked = _lock(report)
    _expect(locked, (ReportStatus.IN_REVIEW, ReportStatus.REVIEWED), _("devolver"))
    needed = REVIEW if locked.status == ReportStatus.IN_REVIEW else APPROVE
    if not actor.has_perm(needed):
        raise PermissionDenied(
            _("Un informe en revisión lo devuelve la coordinación.")
            if needed == REVIEW
            else _("Un informe revisado solo lo devuelve quien lo aprueba (dirección).")
        )
    _transition(
        locked,
        ReportStatus.RETURNED,
        actor=actor,
        action="reports.return",
        comment=comment.strip(),
    )
    return _sync(report, locked)


@transaction.atomic
def do_approve(report: ManagementReport, *, actor: Any, comment: str = "") -> ManagementReport:
    """Reviewed → approved (the director)."""
    _require(actor, APPROVE, doing=_("aprobar"))
    locked = _lock(report)
    _expect(locked, (ReportStatus.REVIEWED,), _("aprobar"))
    _transition(
        locked, ReportStatus.APPROVED, actor=actor, action="reports.approve", comment=comment
    )
    return _sync(report, locked)


def archive_dir(year: int) -> Path:
    return Path(settings.CAUDAL_REPORT_DIR) / f"{year:04d}"


def _archive_name(report: ManagementReport, ext: str) -> str:
    return f"{report.snapshot.date.isoformat()}-{report.kind}-{report.pk}-r{report.revision}.{ext}"


def _write_read_only(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (never over an existing file) and make it read-only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o444)
    if path.exists():
        tmp.unlink()
        raise ReportError(_("El archivo %(p)s ya existe: no se sobrescribe.") % {"p": path})
    os.replace(tmp, path)


def archived_path(report: ManagementReport, kind: str = "pdf") -> Path | None:
    stored = report.pdf_path if kind == "pdf" else report.xlsx_path
    if not stored:
        return None
    return Path(settings.CAUDAL_REPORT_DIR) / stored


def do_publish(report: ManagementReport, *, actor: Any, comment: str = "") -> ManagementReport:
    """Approved → published: archive the final PDF and XLSX read-only, store the PDF's
    path and SHA-256, and e-mail the PDF when the transaction commits.

    The documents are rendered before the row is locked (no lock is held while
    WeasyPrint lays out the pages); the state is checked again under the lock."""
    from .content import build_content
    from .render import report_pdf, report_xlsx

    if actor is None or not (actor.has_perm(APPROVE) or actor.has_perm(DRAFT)):
        raise PermissionDenied(_("No tiene permiso para publicar un informe de gestión."))
    current = ManagementReport.objects.select_related("snapshot").get(pk=report.pk)
    _refuse_published(current)
    _expect(current, (ReportStatus.APPROVED,), _("publicar"))
    now = timezone.now()
    content = build_content(current.kind, current.snapshot)
    pdf = report_pdf(current, content, final=True, published_at=now)
    xlsx = report_xlsx(current, content, final=True)
    digest = hashlib.sha256(pdf).hexdigest()
    folder = archive_dir(timezone.localtime(now).year)
    pdf_file = folder / _archive_name(current, "pdf")
    xlsx_file = folder / _archive_name(current, "xlsx")
    written: list[Path] = []
    try:
        with transaction.atomic():
            locked = _lock(current)
            _expect(locked, (ReportStatus.APPROVED,), _("publicar"))
            if locked.revision != current.revision or locked.updated_at != current.updated_at:
                raise ReportError(
                    _("El informe cambió mientras se publicaba: vuelva a intentarlo.")
                )
            _write_read_only(pdf_file, pdf)
            written.append(pdf_file)
            _write_read_only(xlsx_file, xlsx)
            written.append(xlsx_file)
            base = Path(settings.CAUDAL_REPORT_DIR)
            locked.pdf_path = str(pdf_file.relative_to(base))
            locked.xlsx_path = str(xlsx_file.relative_to(base))
            locked.pdf_sha256 = digest
            locked.published_at = now
            locked.published_by = actor
            to = recipients_for(locked)
            _transition(
                locked,
                ReportStatus.PUBLISHED,
                actor=actor,
                action="reports.publish",
                comment=comment,
                extra_fields=(
                    "pdf_path",
                    "xlsx_path",
                    "pdf_sha256",
                    "published_at",
                    "published_by",
                ),
                after={"pdf_path": locked.pdf_path, "pdf_sha256": digest, "recipients": to},
            )
            report_id = locked.pk
            transaction.on_commit(lambda: _send(report_id, to))
    except BaseException:
        for path in written:
            _remove(path)
        raise
    return _sync(report, locked)


def _remove(path: Path) -> None:
    try:
        os.chmod(path, 0o644)
        path.unlink()
    except OSError:  # pragma: no cover - best effort cleanup
        log.warning("could not remove %s after a failed publication", path)


def _send(report_id: int, to: list[str]) -> None:
    """E-mail the archived PDF (after the commit). A failure is logged and audited: the
    report stays published."""
    if not to:
        return
    report = ManagementReport.objects.select_related("snapshot").get(pk=report_id)
    path = archived_path(report)
    assert path is not None
    subject = f"{report.title} ({report.snapshot.date:%d/%m/%Y})"
    body = _(
        "Se publicó el informe de gestión «%(t)s», corte del %(d)s, revisión %(r)s.\n"
        "Se adjunta el PDF aprobado (SHA-256 %(h)s).\n"
    ) % {
        "t": report.title,
        "d": report.snapshot.date.strftime("%d/%m/%Y"),
        "r": report.revision,
        "h": report.pdf_sha256,
    }
    message = EmailMessage(subject=subject, body=body, to=to)
    message.attach(path.name, path.read_bytes(), "application/pdf")
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # the mail server's failure is reported, not raised
        log.exception("management report %s: e-mail failed", report_id)
        record(
            actor="system",
            action="reports.email_failed",
            object_type="reports.managementreport",
            object_id=report_id,
            after={"recipients": to},
            reason=str(exc)[:250],
        )
        return
    record(
        actor="system",
        action="reports.emailed",
        object_type="reports.managementreport",
        object_id=report_id,
        after={"recipients": to, "attachment": path.name},
    )


__all__ = [
    "ReportError",
    "archived_path",
    "do_approve",
    "do_create_report",
    "do_edit_report",
    "do_forward",
    "do_publish",
    "do_return",
    "do_submit",
    "parse_recipients",
    "recipients_for",
]
