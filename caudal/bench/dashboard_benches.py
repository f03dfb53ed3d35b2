"""Benchmark of the operational dashboard (CMO): ``caudal bench dashboard --size N --json``.

``N`` is the number of open items of the latest snapshot; the accounts are ``N / 8.7``
(2.3 M accounts for 20 M items). Not timed: :func:`caudal.portfolio.synthetic.write_series`
writes 12 schema-true monthly snapshots (each with ``N`` items: items, accounts, cube,
months, manifest, computed by the production :mod:`caudal.portfolio.build`) under
``CAUDAL_SNAPSHOT_DIR`` with their ``Snapshot`` rows. Set ``CAUDAL_BENCH_DATA`` to a folder
to keep the generated snapshots there and reuse them on the next run of the same size
(generating 12 × 20 M items takes a quarter of an hour).

Timed, each over ``RUNS`` runs with random filters (each of zone, cycle, use, stratum and
municipality set with probability 0.4 to a value of the snapshot), after a warm-up run:

- every tile function of :mod:`caudal.portfolio.dashboard` (``tiles.<name>.p50_ms`` /
  ``p95_ms``): totals, by_stage, aging, trend (12 cubes), collected_vs_billed, top_zones,
  and filter_values (the form's options);
- the drill-down's first page of a random figure (``drill``: count, total and the 50
  largest accounts out of ``accounts.parquet``);
- the whole page ``/cartera/tablero/`` through Django's test client as a cartera analyst
  (``page``), and its first (cold) request;
- one XLSX export of a zone's overdue accounts (``export``: rows, seconds).

Targets at 20 M items / 2.3 M accounts: each tile p95 ≤ 300 ms, the page ≤ 1 s.
``seconds`` is the sum of the page samples and ``rate_per_s`` pages per second.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings

from caudal.bench.harness import benchmark, percentiles

SEED = 20261123
RUNS = 30
LAST = date(2026, 10, 31)
ITEMS_PER_ACCOUNT = 8.7
FILTER_PROBABILITY = 0.4


def _series(size: int, root: Path) -> tuple[list[Path], float]:
    """The 12 monthly synthetic snapshots under ``root`` (reused from ``CAUDAL_BENCH_DATA``
    when it holds them for this size); returns the folders and the seconds generating."""
    from caudal.portfolio import synthetic

    accounts = max(1, round(size / ITEMS_PER_ACCOUNT))
    cache_env = os.environ.get("CAUDAL_BENCH_DATA")
    cache = Path(cache_env) / f"dashboard-{size}-{SEED}" if cache_env else None
    start = time.perf_counter()
    if cache is not None and (cache / "done.json").is_file():
        source = cache
    else:
        source = cache if cache is not None else root
        if cache is not None and cache.exists():
            shutil.rmtree(cache)
        source.mkdir(parents=True, exist_ok=True)
        synthetic.write_series(source, last=LAST, months=12, accounts=accounts, seed=SEED)
        if cache is not None:
            (cache / "done.json").write_text(json.dumps({"size": size, "accounts": accounts}))
    folders = []
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        target = root / folder.name
        if target != folder:
            if target.exists() or target.is_symlink():
                target.unlink() if target.is_symlink() else shutil.rmtree(target)
            target.symlink_to(folder, target_is_directory=True)
        folders.append(target)
    return folders, time.perf_counter() - start


def _random_filters(rng: random.Random, values: dict[str, list[Any]]) -> dict[str, str]:
    out = {}
    for name, options in values.items():
        if options and rng.random() < FILTER_PROBABILITY:
            out[name] = str(rng.choice(options))
    return out


def _time(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


@benchmark(
    "dashboard",
    default_size=1_000_000,
    description="the CMO dashboard over a snapshot of N open items: every tile and the page",
)
def bench_dashboard(size: int, workdir: Path) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client, override_settings

    from caudal.audit.roles import ensure_roles
    from caudal.cadastre.testing import make_utility
    from caudal.portfolio import dashboard as dash
    from caudal.portfolio.models import Snapshot, SnapshotKind, SnapshotStatus

    root = Path(settings.CAUDAL_SNAPSHOT_DIR)
    root.mkdir(parents=True, exist_ok=True)
    folders, generate_seconds = _series(size, root)
    for folder in folders:
        Snapshot.objects.update_or_create(
            date=date.fromisoformat(folder.name),
            defaults={
                "kind": SnapshotKind.MONTHLY,
                "status": SnapshotStatus.DONE,
                "path": folder.name,
            },
        )
    sources = [dash.open_snapshot(f) for f in folders]
    source = sources[-1]
    manifest = json.loads((folders[-1] / "manifest.json").read_text(encoding="utf-8"))
    values = dash.filter_values(source)
    rng = random.Random(SEED)
    filter_sets = [_random_filters(rng, values) for _ in range(RUNS)]

    tiles: dict[str, Callable[[dash.Filters], Any]] = {
        "totals": lambda f: dash.totals(source, f),
        "by_stage": lambda f: dash.by_stage(source, f),
        "aging": lambda f: dash.aging(source, f),
        "trend": lambda f: dash.trend(sources, f),
        "collected_vs_billed": lambda f: dash.collected_vs_billed(source),
        "top_zones": lambda f: dash.top_zones(source, f),
        "filter_values": lambda f: dash.filter_values(source),
    }
    tile_results: dict[str, Any] = {}
    for name, fn in tiles.items():
        cold = _time(lambda fn=fn: fn(dash.Filters()))  # type: ignore[misc]
        samples = [
            _time(lambda fn=fn, q=q: fn(dash.Filters.from_query(q)))  # type: ignore[misc]
            for q in filter_sets
        ]
        tile_results[name] = {"first_ms": round(cold, 3), **percentiles(samples)}

    drills = [
        dash.Drill("totals", "overdue"),
        dash.Drill("totals", "balance"),
        *(dash.Drill("stage", code) for code, _n in source.stages),
        *(dash.Drill("aging-value", b) for b in source.bucket_codes),
        *(dash.Drill("zone", str(z)) for z in values["zone"][:5]),
    ]
    drill_samples = []
    for q in filter_sets:
        drill = rng.choice(drills)
        drill_samples.append(
            _time(lambda q=q, d=drill: dash.drill_page(source, dash.Filters.from_query(q), d))  # type: ignore[misc]
        )

    # the page, as a cartera analyst
    make_utility("CO")
    ensure_roles()
    user, _ = get_user_model().objects.get_or_create(username="bench.cartera")
    user.groups.set([Group.objects.get(name="cartera_analyst")])
    plain_static = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    page_samples: list[float] = []
    page_bytes = 0
    with override_settings(STORAGES=plain_static):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)

        def get(params: dict[str, str]) -> None:
            nonlocal page_bytes
            response = client.get("/cartera/tablero/", params)
            if response.status_code != 200:
                raise SystemExit(f"GET /cartera/tablero/ {params} answered {response.status_code}")
            page_bytes = len(response.content)

        page_first = _time(lambda: get({}))
        for q in filter_sets:
            page_samples.append(_time(lambda q=q: get(q)))  # type: ignore[misc]

    # one export: the overdue accounts of the zone with most of them
    zone = dash.top_zones(source, dash.Filters(), limit=1)[0].key
    from caudal.web.portfolio.dashboard_views import export_columns

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        out = Path(tmp) / "export.xlsx"
        t0 = time.perf_counter()
        rows = dash.export_xlsx(
            source,
            dash.Filters(zone=zone),
            dash.Drill("totals", "overdue"),
            out,
            columns=export_columns("COP"),
        )
        export_seconds = time.perf_counter() - t0
        export_bytes = out.stat().st_size

    page = percentiles(page_samples)
    worst_tile = max(v["p95_ms"] for v in tile_results.values())
    cube_rows = manifest.get("totals", {})
    return {
        "seconds": sum(page_samples) / 1000,
        "rate_per_s": round(len(page_samples) / (sum(page_samples) / 1000), 1),
        "items": int(cube_rows.get("items", 0)),
        "accounts": int(cube_rows.get("accounts", 0)),
        "snapshots": len(folders),
        "runs": RUNS,
        "tiles": tile_results,
        "tile_p95_max_ms": worst_tile,
        "tile_target_met": worst_tile <= 300,
        "drill": percentiles(drill_samples),
        "page": {"first_ms": round(page_first, 3), "bytes": page_bytes, **page},
        "page_target_met": page["p95_ms"] <= 1000,
        "export": {
            "rows": rows,
            "seconds": round(export_seconds, 3),
            "rows_per_s": round(rows / export_seconds, 1) if export_seconds else None,
            "bytes": export_bytes,
        },
        "generate_seconds": round(generate_seconds, 1),
        "cube_rows": _cube_rows(source.cube),
    }


def _cube_rows(path: str) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)
