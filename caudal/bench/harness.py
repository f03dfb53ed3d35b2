"""The benchmark harness behind ``caudal bench NAME --size N --json``.

A benchmark is a function registered with :func:`benchmark`. It receives the size and a
scratch directory, runs against the database the command prepared (a fresh SQLite file, or
a fresh PostgreSQL database when ``DATABASE_URL`` is set), and returns a dict with at least
``seconds``; the harness adds ``name``, ``size``, ``rate_per_s``, ``ratio`` (seconds /
floor_seconds) when a floor is given, the engine and the machine.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BenchFn = Callable[[int, Path], dict[str, Any]]


@dataclass(frozen=True)
class Benchmark:
    name: str
    fn: BenchFn
    default_size: int
    description: str


REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str, *, default_size: int, description: str) -> Callable[[BenchFn], BenchFn]:
    def register(fn: BenchFn) -> BenchFn:
        REGISTRY[name] = Benchmark(name, fn, default_size, description)
        return fn

    return register


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds (inclusive method, as load tools report them)."""
    if not samples_ms:
        return {}
    if len(samples_ms) == 1:
        v = round(samples_ms[0], 3)
        return {"p50_ms": v, "p95_ms": v, "p99_ms": v}
    q = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {"p50_ms": round(q[49], 3), "p95_ms": round(q[94], 3), "p99_ms": round(q[98], 3)}


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            mem_gib = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_gib": mem_gib,
        "python": platform.python_version(),
    }


def finish(name: str, size: int, raw: dict[str, Any], engine: str) -> dict[str, Any]:
    result: dict[str, Any] = {"name": name, "size": size}
    result.update(raw)
    seconds = float(result["seconds"])
    result["seconds"] = round(seconds, 3)
    result.setdefault("rate_per_s", round(size / seconds, 1) if seconds > 0 else None)
    floor = result.get("floor_seconds")
    if floor:
        result["floor_seconds"] = round(float(floor), 3)
        result["ratio"] = round(seconds / float(floor), 2)
    result["engine"] = engine
    result["machine"] = machine()
    result["date"] = datetime.now(UTC).strftime("%Y-%m-%d")
    return result
