"""Writing audit events. Every ``do_*`` action in Caudal calls :func:`record`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils import timezone

from .models import AuditEvent, Run, RunStatus

ActorLike = AbstractBaseUser | AnonymousUser | str | None


def actor_parts(actor: ActorLike) -> tuple[Any, str]:
    """Split an actor into (user or None, label). A string names a process or system."""
    if actor is None:
        return None, "system"
    if isinstance(actor, str):
        return None, actor
    if isinstance(actor, AnonymousUser) or not getattr(actor, "is_authenticated", False):
        return None, "anonymous"
    return actor, actor.get_username()


def record(
    *,
    actor: ActorLike,
    action: str,
    object_type: str,
    object_id: object = "",
    account_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    user, label = actor_parts(actor)
    return AuditEvent.objects.create(
        actor=user,
        actor_label=label,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        account_id=account_id,
        before=before,
        after=after,
        reason=reason[:250],
    )


def start_run(*, kind: str, actor: ActorLike, parameters: dict[str, Any]) -> Run:
    user, _label = actor_parts(actor)
    return Run.objects.create(kind=kind, actor=user, parameters=parameters)


def finish_run(
    run: Run, *, status: str, counts: dict[str, Any], errors: list[dict[str, Any]] | None = None
) -> Run:
    run.status = status
    run.counts = counts
    run.errors = (errors or [])[:1000]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "counts", "errors", "finished_at"])
    return run


__all__ = ["ActorLike", "RunStatus", "actor_parts", "finish_run", "record", "start_run"]
