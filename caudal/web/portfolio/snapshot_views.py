"""Cartera home (the list of snapshots) and a snapshot's page with its files.

Permissions:

- ``portfolio.view_cartera``: the list, a snapshot's page (totals, by stage and by age
  bucket from ``cube.parquet`` through DuckDB, the manifest) and its Parquet files;
- ``portfolio.take_snapshots``: take a snapshot of a date (POST on the home page; it runs in
  the request, which is fine at demo scale: ``caudal snapshot`` is the batch way).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from caudal.kernel.errors import DomainError
from caudal.portfolio import schema
from caudal.portfolio.models import Snapshot, SnapshotKind, SnapshotStatus
from caudal.portfolio.snapshot import folder_for, take_snapshot

from ..context_processors import get_utility
from ..permissions import require_perms

VIEW = "portfolio.view_cartera"
TAKE = "portfolio.take_snapshots"
PAGE = 60


def _base(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {
        "currency": get_utility(request).currency,
        "nav": "cartera",
        "can_take": request.user.has_perm(TAKE),
        **extra,
    }


@require_http_methods(["GET", "POST"])
@require_perms(VIEW)
def cartera_home(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    error = ""
    form = {"date": "", "kind": ""}
    if request.method == "POST":
        if not request.user.has_perm(TAKE):
            raise PermissionDenied
        form = {
            "date": request.POST.get("date", "").strip(),
            "kind": request.POST.get("kind", "").strip(),
        }
        try:
            on = date.fromisoformat(form["date"])
        except ValueError:
            error = _("Fecha de corte no válida: %(d)s (use AAAA-MM-DD).") % {
                "d": form["date"] or "—"
            }
        else:
            kind = form["kind"] or None
            if kind and kind not in SnapshotKind.values:
                error = _("Tipo de corte desconocido: %(k)s.") % {"k": kind}
            else:
                try:
                    snap = take_snapshot(on, actor=request.user, kind=kind)
                except DomainError as exc:
                    error = str(exc)
                else:
                    messages.success(
                        request,
                        _("Corte del %(d)s tomado: %(n)s partidas abiertas de %(a)s suministros.")
                        % {"d": on.strftime("%d/%m/%Y"), "n": snap.items, "a": snap.accounts},
                    )
                    return redirect("snapshot-detail", on=on.isoformat())
    snapshots = list(Snapshot.objects.order_by("-date")[:PAGE])
    latest = next((s for s in snapshots if s.status == SnapshotStatus.DONE), None)
    response = render(
        request,
        "portfolio/snapshot_list.html",
        _base(
            request,
            snapshots=snapshots,
            latest=latest,
            today=today,
            kinds=SnapshotKind.choices,
            form=form,
            error=error,
        ),
        status=400 if error else 200,
    )
    return response


def _done_snapshot(on: str) -> Snapshot:
    try:
        day = date.fromisoformat(on)
    except ValueError as exc:
        raise Http404 from exc
    return get_object_or_404(Snapshot, date=day)


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((folder / schema.MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data


def cube_breakdown(cube: Path, dimension: str, order: list[str]) -> list[dict[str, Any]]:
    """Accounts, items and amounts of ``cube.parquet`` grouped by one dimension (stage or
    bucket), in ``order`` (values not in it last)."""
    if dimension not in ("stage", "bucket", "responsible", "age_class", "testigo"):
        raise ValueError(dimension)
    db = duckdb.connect()
    try:
        rows = db.execute(
            f"SELECT {dimension} AS key, SUM(accounts), SUM(items), SUM(debit_open), "
            "SUM(credit_open), SUM(balance), SUM(overdue), SUM(blocked_amount) "
            f"FROM read_parquet(?) GROUP BY {dimension}",
            [str(cube)],
        ).fetchall()
    finally:
        db.close()
    rank = {key: i for i, key in enumerate(order)}
    out = [
        {
            "key": r[0],
            "accounts": int(r[1] or 0),
            "items": int(r[2] or 0),
            "debit_open": int(r[3] or 0),
            "credit_open": int(r[4] or 0),
            "balance": int(r[5] or 0),
            "overdue": int(r[6] or 0),
            "blocked": int(r[7] or 0),
        }
        for r in rows
    ]
    return sorted(out, key=lambda r: (rank.get(r["key"], len(rank)), str(r["key"])))


def bucket_amounts(cube: Path, columns: list[str]) -> dict[str, int]:
    """The age-bucket amount columns of ``cube.parquet`` summed (open debits by the age of
    each item)."""
    if not columns or not all(c.replace("_", "").isalnum() for c in columns):
        return {}
    db = duckdb.connect()
    try:
        row = db.execute(
            "SELECT " + ", ".join(f'SUM("{c}")' for c in columns) + " FROM read_parquet(?)",
            [str(cube)],
        ).fetchone()
    finally:
        db.close()
    return {c: int(v or 0) for c, v in zip(columns, row or (), strict=False)}


@require_GET
@require_perms(VIEW)
def snapshot_detail(request: HttpRequest, on: str) -> HttpResponse:
    snap = _done_snapshot(on)
    folder = folder_for(snap.date)
    manifest = _manifest(folder) if snap.status == SnapshotStatus.DONE else {}
    cube = folder / schema.CUBE
    by_stage: list[dict[str, Any]] = []
    by_bucket: list[dict[str, Any]] = []
    if manifest and cube.exists():
        stages = manifest.get("stages", [])
        names = {s["stage"]: s for s in stages}
        by_stage = cube_breakdown(cube, "stage", [s["stage"] for s in stages])
        for row in by_stage:
            info = names.get(row["key"], {})
            row["name"] = info.get("name", row["key"])
            row["responsible"] = info.get("responsible", "")
        codes = manifest.get("bucket_codes", [])
        columns = manifest.get("bucket_columns", [])
        per_account = {r["key"]: r for r in cube_breakdown(cube, "bucket", codes)}
        amounts = bucket_amounts(cube, columns)
        for code, col in zip(codes, columns, strict=False):
            row = per_account.get(code, {"accounts": 0, "balance": 0})
            by_bucket.append(
                {
                    "key": code,
                    "accounts": row["accounts"],
                    "balance": row["balance"],
                    "amount": amounts.get(col, 0),
                }
            )
    files = [
        {
            "name": name,
            "bytes": info.get("bytes", 0),
            "sha256": info.get("sha256", ""),
            "url": reverse("snapshot-file", args=[snap.date.isoformat(), name]),
        }
        for name, info in sorted((manifest.get("files") or {}).items())
    ]
    previous = (
        Snapshot.objects.filter(date__lt=snap.date, status=SnapshotStatus.DONE)
        .order_by("-date")
        .first()
    )
    following = (
        Snapshot.objects.filter(date__gt=snap.date, status=SnapshotStatus.DONE)
        .order_by("date")
        .first()
    )
    return render(
        request,
        "portfolio/snapshot_detail.html",
        _base(
            request,
            snap=snap,
            manifest=manifest,
            manifest_json=json.dumps(manifest, indent=2, ensure_ascii=False),
            by_stage=by_stage,
            by_bucket=by_bucket,
            files=files,
            timings=sorted((manifest.get("timings") or {}).items()),
            run=snap.run,
            previous=previous,
            following=following,
        ),
    )


@require_GET
@require_perms(VIEW)
def snapshot_file(request: HttpRequest, on: str, name: str) -> FileResponse:
    """A file of the snapshot's folder, only when the manifest lists it."""
    snap = _done_snapshot(on)
    if snap.status != SnapshotStatus.DONE:
        raise Http404
    folder = folder_for(snap.date)
    listed = _manifest(folder).get("files") or {}
    if name not in listed or "/" in name or "\\" in name:
        raise Http404
    path = folder / name
    if not path.is_file():
        raise Http404
    download = f"cartera-{snap.date.isoformat()}-{name}"
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=download,
        content_type="application/vnd.apache.parquet",
    )
