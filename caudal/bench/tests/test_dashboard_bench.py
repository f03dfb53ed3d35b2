"""The dashboard benchmark runs end to end on a small synthetic series and reports every
tile, the drill-down, the page and the export."""

from __future__ import annotations

import pytest

from caudal.bench import dashboard_benches
from caudal.bench.management.commands.bench import load_registry


@pytest.mark.django_db
def test_dashboard_bench_small(settings, tmp_path, monkeypatch):
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    settings.STATIC_ROOT = tmp_path / "static"
    monkeypatch.setattr(dashboard_benches, "RUNS", 3)
    monkeypatch.delenv("CAUDAL_BENCH_DATA", raising=False)
    assert "dashboard" in load_registry()
    result = dashboard_benches.bench_dashboard(3000, tmp_path)
    assert result["snapshots"] == 12
    assert 2500 < result["items"] < 3500  # about N items
    assert result["accounts"] == round(3000 / 8.7)
    assert set(result["tiles"]) == {
        "totals",
        "by_stage",
        "aging",
        "trend",
        "collected_vs_billed",
        "top_zones",
        "filter_values",
    }
    for tile in result["tiles"].values():
        assert 0 < tile["p50_ms"] <= tile["p95_ms"]
    assert result["page"]["p95_ms"] > 0 and result["page"]["bytes"] > 10_000
    assert result["export"]["rows"] > 0
    assert result["tile_p95_max_ms"] == max(t["p95_ms"] for t in result["tiles"].values())


@pytest.mark.django_db
def test_dashboard_bench_reuses_generated_data(settings, tmp_path, monkeypatch):
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    settings.STATIC_ROOT = tmp_path / "static"
    monkeypatch.setattr(dashboard_benches, "RUNS", 2)
    monkeypatch.setenv("CAUDAL_BENCH_DATA", str(tmp_path / "cache"))
    dashboard_benches.bench_dashboard(900, tmp_path)
    cached = tmp_path / "cache" / f"dashboard-900-{dashboard_benches.SEED}"
    assert (cached / "done.json").is_file()
    stamp = (cached / "2026-10-31" / "cube.parquet").stat().st_mtime_ns
    again = dashboard_benches.bench_dashboard(900, tmp_path)
    assert (cached / "2026-10-31" / "cube.parquet").stat().st_mtime_ns == stamp  # not rewritten
    assert again["snapshots"] == 12
