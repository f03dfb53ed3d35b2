"""``payments-api``: payments posted over HTTP to ``POST /api/v1/payments``, sustained.

Setup (not timed): a utility of N accounts, 90 % of them owing 1 to 3 bills
(:func:`caudal.bench.billing_benches.build_utility`), a bank that accepts any amount
(the excess stays as credit) and an API key. Then the real server is started as in
production (``caudal serve``: gunicorn, ``caudal.settings.production``, the same database)
on 127.0.0.1, and :class:`LoadGenerator` drives it: C keep-alive HTTP/1.1 connections
written with raw asyncio streams, every request pre-built, each with its own idempotency
key, each connection sending its next request when the previous answer arrived (closed
loop). After a warm-up, payments acknowledged (201) and latencies are counted over a
fixed window. Afterwards the ledger must hold exactly the acknowledged payments.

``floor_seconds``: as many :func:`caudal.collection.actions.do_post_centre_payment`
calls as the window acknowledged, in this process, one after the other (no HTTP, no
server). ``ratio`` = window seconds / floor seconds: below 1 means the server (two
processes, two cores) posted faster than one in-process loop.

Knobs (environment): ``CAUDAL_BENCH_CONCURRENCY`` (16), ``CAUDAL_BENCH_SECONDS`` (20),
``CAUDAL_BENCH_WARMUP`` (5), ``CAUDAL_BENCH_WORKERS`` / ``CAUDAL_BENCH_THREADS`` (the
``caudal serve`` defaults unless set), ``CAUDAL_BENCH_SERVER_SETTINGS`` (the server's
settings module, ``caudal.settings.production`` unless set).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.db import connection

from caudal.bench.billing_benches import build_utility
from caudal.bench.harness import benchmark, percentiles

HOST = "127.0.0.1"
SEED = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- server


@dataclass
class Server:
    """``caudal serve`` in a subprocess, with production settings, on 127.0.0.1."""

    port: int
    env: dict[str, str]
    workers: int | None = None
    threads: int | None = None
    log: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def production_env(extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("CAUDAL_BENCH_CHILD", "DJANGO_ALLOW_ASYNC_UNSAFE"):
            env.pop(name, None)
        env.update(
            DJANGO_SETTINGS_MODULE="caudal.settings.production",
            CAUDAL_SECRET_KEY=secrets.token_urlsafe(50),
            CAUDAL_ALLOWED_HOSTS=HOST,
            # Loopback without TLS: the HTTPS redirect would answer 301 to every request.
            CAUDAL_SSL_REDIRECT="0",
        )
        env.update(extra or {})
        return env

    def start(self, *, timeout: float = 60) -> Server:
        cmd = [
            sys.executable,
            "-m",
            "caudal.cli",
            "serve",
            "--bind",
            f"{HOST}:{self.port}",
            "--no-migrate",
            "--no-collectstatic",
        ]
        if self.workers:
            cmd += ["--workers", str(self.workers)]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        url = f"http://{HOST}:{self.port}/api/v1/openapi.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} (log: {self.log})")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout} s (log: {self.log})")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group's master (gunicorn re-execs in place)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if sig == signal.SIGKILL:
            # The master and its workers: a SIGKILLed master leaves its workers running.
            for pid in _children(self.proc.pid):
                _signal(pid, signal.SIGKILL)
        _signal(self.proc.pid, sig)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (gunicorn's workers), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


# ----------------------------------------------------------------------- load generator


def payment_request(
    *, key: str, idempotency_key: str, reference: str, amount: int, host: str = HOST
) -> bytes:
    body = json.dumps(
        {"reference": reference, "amount": amount, "method": "cash"}, separators=(",", ":")
    ).encode()
    head = (
        f"POST /api/v1/payments HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        f"Authorization: Bearer {key}\r\n"
        f"Idempotency-Key: {idempotency_key}\r\n"
        f"Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"\r\n"
    ).encode()
    return head + body


@dataclass
class Sample:
    sent: float
    done: float
    status: int  # 0: connection failed


@dataclass
class LoadGenerator:
    """Closed-loop HTTP/1.1 keep-alive load over raw asyncio streams.

    ``requests`` are sent in order, each once, by ``concurrency`` connections; a
    connection sends its next request when the previous response has been read. The
    response is parsed only as far as the status line and ``Content-Length``."""

    port: int
    requests: list[bytes]
    concurrency: int
    stop_after: float  # seconds from start
    samples: list[Sample] = field(default_factory=list)
    next_index: int = 0
    started: float = 0.0

    async def _read_response(self, reader: asyncio.StreamReader) -> tuple[int, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        length = 0
        pos = lower.find(b"\r\ncontent-length:")
        if pos >= 0:
            end = lower.find(b"\r\n", pos + 2)
            length = int(lower[pos + 17 : end])
        if length:
            await reader.readexactly(length)
        return status, b"\r\nconnection: close" in lower

    async def _connection(self) -> None:
        reader = writer = None
        loop_time = time.perf_counter
        while True:
            i = self.next_index
            if i >= len(self.requests) or loop_time() - self.started > self.stop_after:
                break
            self.next_index = i + 1
            sent = loop_time()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, self.port)
                writer.write(self.requests[i])
                assert reader is not None
                status, close = await self._read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                status, close = 0, True
            self.samples.append(Sample(sent, loop_time(), status))
            if close and writer is not None:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    async def _run(self) -> None:
        self.started = time.perf_counter()
        await asyncio.gather(*(self._connection() for _ in range(self.concurrency)))

    def run(self) -> LoadGenerator:
        asyncio.run(self._run())
        return self


def window_figures(samples: list[Sample], start: float, end: float) -> dict[str, Any]:
    """Throughput and latency of the requests that completed inside [start, end)."""
    inside = [s for s in samples if start <= s.done < end]
    statuses: dict[str, int] = {}
    for s in inside:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
    acked = statuses.get("201", 0)
    seconds = end - start
    return {
        "window_seconds": round(seconds, 3),
        "requests": len(inside),
        "acknowledged": acked,
        "payments_per_s": round(acked / seconds, 1) if seconds > 0 else 0.0,
        "statuses": statuses,
        **percentiles([(s.done - s.sent) * 1000 for s in inside]),
    }


# ---------------------------------------------------------------------------- bench


def _setup(size: int) -> tuple[Any, str, list[str], float]:
    from caudal.collection.actions import do_issue_key
    from caudal.collection.models import AmountRule
    from caudal.collection.testing import make_centre

    started = time.perf_counter()
    build_utility(size, debt_share=0.9, credit_share=0.0, held_share=0.0)
    centre = make_centre("BENCH", amount_rule=AmountRule.ANY)
    _key, raw = do_issue_key(centre, label="bench", actor="bench")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.number FROM cadastre_account a WHERE EXISTS (SELECT 1 FROM "
            "ledger_openitem i WHERE i.account_id = a.id AND i.open_amount > 0 AND i.side = 'D')"
        )
        debtors = [row[0] for row in cursor.fetchall()]
    return centre, raw, debtors, time.perf_counter() - started


def _floor(centre: Any, references: list[str], amounts: list[int]) -> float:
    from caudal.collection.actions import do_post_centre_payment

    started = time.perf_counter()
    for i, (reference, amount) in enumerate(zip(references, amounts, strict=True)):
        do_post_centre_payment(
            centre=centre,
            reference=reference,
            amount=amount,
            idempotency_key=f"floor-{i}",
            actor="bench:floor",
        )
    return time.perf_counter() - started


@benchmark(
    "payments-api",
    default_size=20_000,
    description="POST /api/v1/payments over HTTP (caudal serve), C keep-alive connections, "
    "payments/s and latency over a window",
)
def bench_payments_api(size: int, workdir: Path) -> dict[str, Any]:
    from caudal.collection.models import Payment

    concurrency = int(os.environ.get("CAUDAL_BENCH_CONCURRENCY", "16"))
    window = float(os.environ.get("CAUDAL_BENCH_SECONDS", "20"))
    warmup = float(os.environ.get("CAUDAL_BENCH_WARMUP", "5"))
    workers = int(os.environ.get("CAUDAL_BENCH_WORKERS", "0")) or None
    threads = int(os.environ.get("CAUDAL_BENCH_THREADS", "0")) or None
    settings_module = os.environ.get("CAUDAL_BENCH_SERVER_SETTINGS", "caudal.settings.production")
    centre, key, debtors, setup_seconds = _setup(size)
    rng = np.random.default_rng(SEED)
    budget = int((warmup + window + 2) * 4_000)  # more than the server can take
    picks = rng.integers(0, len(debtors), budget)
    amounts = (rng.integers(10, 300, budget) * 100).tolist()
    requests = [
        payment_request(
            key=key,
            idempotency_key=f"api-{i}",
            reference=debtors[int(picks[i])],
            amount=int(amounts[i]),
        )
        for i in range(budget)
    ]
    connection.close()  # the server owns the database while it runs
    server = Server(
        port=free_port(),
        env=Server.production_env({"DJANGO_SETTINGS_MODULE": settings_module}),
        workers=workers,
        threads=threads,
        log=workdir / "server.log",
    ).start()
    try:
        load = LoadGenerator(
            port=server.port,
            requests=requests,
            concurrency=concurrency,
            stop_after=warmup + window,
        ).run()
    finally:
        server.stop()
    start = load.started + warmup
    figures = window_figures(load.samples, start, start + window)
    acked_total = sum(1 for s in load.samples if s.status == 201)
    in_ledger = Payment.objects.filter(centre=centre, idempotency_key__startswith="api-").count()
    if in_ledger != acked_total:
        raise SystemExit(f"ledger holds {in_ledger} API payments, {acked_total} acknowledged")
    from caudal.ledger.invariants import check_all

    violations = check_all()
    if violations:
        raise SystemExit(f"ledger invariants broken after the run: {violations[:5]}")
    n_floor = figures["acknowledged"]
    floor_picks = rng.integers(0, len(debtors), n_floor)
    floor_amounts = (rng.integers(10, 300, n_floor) * 100).tolist()
    floor_seconds = _floor(centre, [debtors[int(p)] for p in floor_picks], floor_amounts)
    return {
        "seconds": figures["window_seconds"],
        "rate_per_s": figures["payments_per_s"],
        **figures,
        "concurrency": concurrency,
        "warmup_seconds": warmup,
        "server": f"caudal serve (gunicorn {'sync' if threads == 1 else 'gthread'}, workers={workers or 'default'}, "
        f"threads={threads or 'default'}), {settings_module}",
        "acknowledged_total": acked_total,
        "payments_in_ledger": in_ledger,
        "invariants": "hold",
        "floor_seconds": floor_seconds,
        "floor_payments_per_s": round(n_floor / floor_seconds, 1) if floor_seconds else None,
        "floor": f"{n_floor} do_post_centre_payment calls in-process, one after the other",
        "setup_seconds": round(setup_seconds, 1),
        "debtors": len(debtors),
    }
