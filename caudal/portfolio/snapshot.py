"""Taking a snapshot (corte de cartera): read, build, write the folder, record the run.

:func:`take_snapshot` reads the open items as of the date (:mod:`caudal.portfolio.extract`),
computes the frames with the policies valid that day (:mod:`caudal.portfolio.build`), writes
the folder and records a ``Run`` (kind ``snapshot``), an audit event and the
:class:`~caudal.portfolio.models.Snapshot` row with its totals.

Idempotent and atomic per date: the files are written to a staging folder
(``CAUDAL_SNAPSHOT_DIR/.staging/``) and then put in place of the date's folder; taking the
same date again gives the same Parquet files (the result is computed as of the date, so
payments, blocks and reversals dated after it change nothing). A failure leaves the
previous folder and its DONE row untouched; the row is FAILED only when there was none.

:func:`take_due_snapshots` is the scheduled task: yesterday's daily snapshot and the last
month end's monthly one, when missing (``caudal snapshot --scheduled``).
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, actor_parts, finish_run, record, start_run
from caudal.audit.models import RunStatus
from caudal.cadastre.models import UtilitySettings
from caudal.kernel.errors import DomainError

from . import build, extract, rules, schema
from .models import AgingPolicy, Snapshot, SnapshotKind, SnapshotStatus, StagePolicy

log = logging.getLogger(__name__)

RUN_KIND = "snapshot"
STAGING = ".staging"


class SnapshotError(DomainError):
    """A snapshot that cannot be taken (the message says why, in Spanish)."""


# ------------------------------------------------------------------------------ helpers


def snapshot_root() -> Path:
    return Path(settings.CAUDAL_SNAPSHOT_DIR)


def folder_for(on: date) -> Path:
    """The folder of the snapshot of ``on``: ``CAUDAL_SNAPSHOT_DIR/YYYY-MM-DD``."""
    return snapshot_root() / on.isoformat()


def is_month_end(on: date) -> bool:
    return (on + timedelta(days=1)).day == 1


def default_kind(on: date) -> str:
    return SnapshotKind.MONTHLY if is_month_end(on) else SnapshotKind.DAILY


def last_month_end(today: date) -> date:
    """The last day of the month before ``today``'s month."""
    return today.replace(day=1) - timedelta(days=1)


@dataclass(frozen=True)
class PolicyRows:
    stage: StagePolicy
    aging: AgingPolicy


def policy_rows(on: date) -> PolicyRows:
    """The stage policy of the utility's country valid on ``on`` (latest version) and the
    aging policy valid on ``on`` (latest version)."""
    country = UtilitySettings.current().country
    stage = (
        StagePolicy.objects.filter(country=country, valid_from__lte=on).order_by("-version").first()
    )
    if stage is None:
        raise SnapshotError(
            _("No hay política de etapas de cobro vigente el %(date)s para el perfil %(c)s.")
            % {"date": on.isoformat(), "c": country}
        )
    aging = AgingPolicy.objects.filter(valid_from__lte=on).order_by("-version").first()
    if aging is None:
        raise SnapshotError(
            _("No hay política de edades vigente el %(date)s.") % {"date": on.isoformat()}
        )
    return PolicyRows(stage=stage, aging=aging)


def policies_from(rows: PolicyRows) -> build.Policies:
    specs = tuple(
        rules.StageRuleSpec(
            order=r.order,
            stage=r.stage,
            name=r.name,
            min_days=r.min_days,
            max_days=r.max_days,
            min_amount=r.min_amount,
            segment=r.segment,
            responsible=r.responsible,
        )
        for r in rows.stage.rules.order_by("order")
    )
    a = rows.aging
    try:
        return build.Policies(
            stage_rules=specs,
            bounds=tuple(int(b) for b in a.bounds),
            light_from=a.light_from_days,
            heavy_from=a.heavy_from_days,
            ddr_from=a.ddr_from_days,
            stage_policy=f"{rows.stage.country} v{rows.stage.version}",
            aging_policy=f"v{a.version}",
        )
    except rules.RuleError as exc:
        raise SnapshotError(_("La política no se puede aplicar: %(e)s") % {"e": exc}) from exc


def load_policies(on: date) -> build.Policies:
    """The stage rules and age buckets valid on ``on`` (see :func:`policy_rows`)."""
    return policies_from(policy_rows(on))


def previous_snapshot(on: date) -> Snapshot | None:
    """The latest DONE snapshot before ``on``."""
    return (
        Snapshot.objects.filter(date__lt=on, status=SnapshotStatus.DONE).order_by("-date").first()
    )


def previous_stages(on: date) -> tuple[pl.DataFrame | None, str]:
    """(account_id, stage) of the latest DONE snapshot before ``on``, and its date."""
    prev = previous_snapshot(on)
    if prev is None:
        return None, ""
    path = folder_for(prev.date) / schema.ACCOUNTS
    if not path.exists():
        return None, ""
    return pl.read_parquet(path, columns=["account_id", "stage"]), prev.date.isoformat()


# ----------------------------------------------------------------------------- the folder


#: Staging folders older than this are left over by a killed run: removed on the next one.
STALE_SECONDS = 24 * 3600


def _staging_folder(on: date) -> Path:
    staging = snapshot_root() / STAGING
    staging.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for leftover in staging.iterdir():
        try:
            if now - leftover.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass
    return staging / f"{on.isoformat()}-{uuid.uuid4().hex[:8]}"


def _put_in_place(new: Path, on: date) -> None:
    """Replace the date's folder by ``new``: rename the old one aside, rename the new one
    in, remove the old one. A crash between the two renames leaves the old folder under
    ``.staging`` (``*-old``) and no folder for the date: taking the date again mends it."""
    target = folder_for(on)
    old: Path | None = None
    if target.exists():
        old = new.with_name(new.name + "-old")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_flows(on: date, folder: Path, accounts: pl.DataFrame) -> dict[str, Any]:
    """The period's flows (recaudo, agreements, months) by ``caudal.portfolio.flows``, when
    that module is installed."""
    try:
        from caudal.portfolio import flows  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return {}
    stages = accounts.select("account_id", "stage", *schema.ACCOUNT_ATTRIBUTES)
    result: dict[str, Any] = flows.write_flows(on, folder, stages)
    return result


# ------------------------------------------------------------------------------ the task


def take_snapshot(
    on: date,
    *,
    actor: ActorLike,
    kind: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Snapshot:
    """Take (or take again) the snapshot of the end of ``on``. Returns the DONE row; raises
    :class:`SnapshotError` (after recording the failure) when it cannot be taken.

    ``progress`` is called with the name of each step as it starts (``read``, ``build``,
    ``flows``, ``write``, ``done``): the CLI shows it."""
    say = progress or (lambda step: None)
    if isinstance(on, str):
        on = date.fromisoformat(on)
    today = timezone.localdate()
    if on > today:
        raise SnapshotError(
            _(
                "La fecha de corte %(date)s es futura: el corte se toma al cierre de un día ya vivido."
            )
            % {"date": on.isoformat()}
        )
    kind = kind or default_kind(on)
    if kind not in SnapshotKind.values:
        raise SnapshotError(_("Tipo de corte desconocido: %(kind)s.") % {"kind": kind})
    user, _label = actor_parts(actor)
    rows = policy_rows(on)
    policies = policies_from(rows)
    started = time.perf_counter()
    run = start_run(kind=RUN_KIND, actor=actor, parameters={"date": on.isoformat(), "kind": kind})
    existing = Snapshot.objects.filter(date=on).first()
    before = (
        {"status": existing.status, "items": existing.items, "balance": existing.balance}
        if existing
        else None
    )
    had_done = existing is not None and existing.status == SnapshotStatus.DONE
    snap, _created = Snapshot.objects.update_or_create(
        date=on,
        defaults={"kind": kind, "status": SnapshotStatus.RUNNING, "run": run},
    )
    staging = _staging_folder(on)
    staging.mkdir()
    timings: dict[str, float] = {}
    try:
        say("read")
        raw = extract.read_raw(on)
        timings.update(raw.timings)
        say("build")
        step = time.perf_counter()
        prev, prev_date = previous_stages(on)
        frames = build.build_frames(on, raw.items, raw.accounts, policies, prev)
        timings["build"] = round(time.perf_counter() - step, 4)
        say("flows")
        step = time.perf_counter()
        flows_counts = _write_flows(on, staging, frames.accounts)
        timings["flows"] = round(time.perf_counter() - step, 4)
        say("write")
        step = time.perf_counter()
        extra = {
            "kind": kind,
            "engine": raw.engine,
            "previous_snapshot": prev_date,
            "flows": flows_counts,
            "timings": timings,
        }
        manifest = build.write_folder(staging, frames, policies, extra)
        timings["write"] = round(time.perf_counter() - step, 4)
        _put_in_place(staging, on)
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        elapsed = time.perf_counter() - started
        log.exception("snapshot %s failed", on)
        message = str(exc) or type(exc).__name__
        finish_run(
            run,
            status=RunStatus.FAILED,
            counts={"seconds": round(elapsed, 3), "timings": timings},
            errors=[{"reason": message[:500]}],
        )
        if had_done and existing is not None:
            # The previous result stands: its folder was not touched.
            Snapshot.objects.filter(pk=snap.pk).update(
                status=SnapshotStatus.DONE, run=existing.run, kind=existing.kind
            )
        else:
            Snapshot.objects.filter(pk=snap.pk).update(
                status=SnapshotStatus.FAILED, duration_ms=int(elapsed * 1000)
            )
        record(
            actor=actor,
            action="portfolio.snapshot_failed",
            object_type="portfolio.snapshot",
            object_id=snap.pk,
            before=before,
            after={"date": on.isoformat(), "run": run.pk, "error": message[:200]},
        )
        if isinstance(exc, SnapshotError):
            raise
        raise SnapshotError(
            _("No se pudo tomar el corte del %(date)s: %(e)s")
            % {"date": on.isoformat(), "e": message}
        ) from exc
    elapsed = time.perf_counter() - started
    timings["total"] = round(elapsed, 4)
    totals = frames.totals
    snap.kind = kind
    snap.status = SnapshotStatus.DONE
    snap.path = on.isoformat()
    snap.run = run
    snap.stage_policy = rows.stage
    snap.aging_policy = rows.aging
    snap.engine = raw.engine
    snap.items = totals["items"]
    snap.accounts = totals["accounts"]
    snap.debit_open = totals["debit_open"]
    snap.credit_open = totals["credit_open"]
    snap.balance = totals["balance"]
    snap.overdue = totals["overdue"]
    snap.blocked = totals["blocked"]
    snap.duration_ms = int(elapsed * 1000)
    snap.taken_at = timezone.now()
    snap.taken_by = user
    snap.save()
    finish_run(
        run,
        status=RunStatus.DONE,
        counts={**totals, "seconds": round(elapsed, 3), "timings": timings},
    )
    record(
        actor=actor,
        action="portfolio.take_snapshot",
        object_type="portfolio.snapshot",
        object_id=snap.pk,
        before=before,
        after={
            "date": on.isoformat(),
            "kind": kind,
            "run": run.pk,
            "engine": raw.engine,
            "stage_policy": policies.stage_policy,
            "aging_policy": policies.aging_policy,
            "totals": totals,
            "files": {name: f["sha256"] for name, f in manifest["files"].items()},
        },
    )
    say("done")
    return snap


def due_dates(today: date) -> list[date]:
    """Dates the scheduled task would take on ``today``: yesterday and the last month end,
    each when it has no DONE snapshot yet."""
    wanted = sorted({today - timedelta(days=1), last_month_end(today)})
    done = set(
        Snapshot.objects.filter(date__in=wanted, status=SnapshotStatus.DONE).values_list(
            "date", flat=True
        )
    )
    return [on for on in wanted if on not in done]


def take_due_snapshots(
    today: date, *, actor: ActorLike, progress: Callable[[str], None] | None = None
) -> list[Snapshot]:
    """The scheduled task: yesterday's daily snapshot and the last month end's monthly
    one, each only when there is no DONE snapshot of that date yet."""
    return [
        take_snapshot(on, actor=actor, kind=default_kind(on), progress=progress)
        for on in due_dates(today)
    ]


__all__ = [
    "RUN_KIND",
    "SnapshotError",
    "default_kind",
    "due_dates",
    "folder_for",
    "is_month_end",
    "last_month_end",
    "load_policies",
    "policy_rows",
    "previous_snapshot",
    "previous_stages",
    "take_due_snapshots",
    "take_snapshot",
]
