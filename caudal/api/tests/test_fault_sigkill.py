"""Fault test: the real server (``caudal serve``) SIGKILLed while centres post payments.

The server runs as a subprocess on a free port against a database of its own: a SQLite
file, or, when the suite runs on PostgreSQL (``DATABASE_URL``, see scripts/test.sh), a new
database on that server. Several clients post payments, each with its own idempotency
key, and retry every failed or unanswered request with the same key and body. Mid-load
the server's master and workers get SIGKILL; it is started again and the clients finish.
Then every acknowledged payment is in the ledger exactly once, every key maps to at most
one payment, every payment posted exactly once (nothing lost, nothing doubled), no payment
document lacks its payment row or the other way round, and the ledger invariants hold.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from caudal.bench.payment_api_benches import HOST, Server, free_port

CLIENTS = 6
PAYMENTS_PER_CLIENT = 30
ACCOUNTS = 24
KILL_AFTER_ACKS = 25  # SIGKILL once this many payments were acknowledged
DEADLINE = 90  # seconds for the clients to finish, retries included


@dataclass
class Database:
    env: dict[str, str]
    drop: Any = None


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    url = os.environ.get("DATABASE_URL")
    env = {"CAUDAL_VAR_DIR": str(tmp_path / "var")}
    if not url:
        env["CAUDAL_SQLITE_PATH"] = str(tmp_path / "fault.sqlite3")
        yield Database(env={**env, "DATABASE_URL": ""})
        return
    import psycopg

    name = f"caudal_fault_{uuid.uuid4().hex[:8]}"
    # The database of DATABASE_URL need not exist (Django's test runner makes its own test
    # database from it): create and drop ours from the server's maintenance database.
    url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield Database(env={**env, "DATABASE_URL": url.rsplit("/", 1)[0] + "/" + name})
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _kit(db: Database, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({k: v for k, v in db.env.items() if v})
    env["DJANGO_SETTINGS_MODULE"] = "caudal.settings.dev"
    proc = subprocess.run(
        [sys.executable, "-m", "caudal.api.tests.faultkit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@dataclass
class Client:
    """Posts its payments one by one; retries each with the same key until answered."""

    number: int
    port: int
    key: str
    accounts: list[str]
    acked: dict[str, int] = field(default_factory=dict)  # idempotency key → payment id
    amounts: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    replays: int = 0
    refused: list[str] = field(default_factory=list)

    def post(self, idem: str, body: bytes) -> tuple[int, dict[str, Any], bool]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            conn.request(
                "POST",
                "/api/v1/payments",
                body=body,
                headers={
                    "Authorization": f"Bearer {self.key}",
                    "Idempotency-Key": idem,
                    "Content-Type": "application/json",
                },
            )
            response = conn.getresponse()
            data = response.read()
            replayed = response.getheader("Idempotent-Replayed") == "true"
            return response.status, json.loads(data) if data else {}, replayed
        finally:
            conn.close()

    def run(self, deadline: float) -> None:
        for i in range(PAYMENTS_PER_CLIENT):
            idem = f"c{self.number}-p{i}"
            amount = 1_000 + 10 * i + self.number
            reference = self.accounts[(self.number * PAYMENTS_PER_CLIENT + i) % len(self.accounts)]
            body = json.dumps({"reference": reference, "amount": amount, "method": "cash"})
            self.amounts[idem] = amount
            while time.monotonic() < deadline:
                try:
                    status, answer, replayed = self.post(idem, body.encode())
                except (OSError, http.client.HTTPException, ValueError):
                    status, answer, replayed = 0, {}, False
                if status in (200, 201):
                    self.acked[idem] = int(answer["id"])
                    self.replays += replayed
                    break
                if status and status < 500:
                    self.refused.append(f"{idem}: {status} {answer}")
                    break
                self.retries += 1
                time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_mid_load_loses_and_doubles_nothing(database: Database) -> None:
    world = _kit(database, "setup", str(ACCOUNTS))
    port = free_port()
    env = Server.production_env({k: v for k, v in database.env.items() if v})
    if not database.env.get("DATABASE_URL"):
        env.pop("DATABASE_URL", None)
    server = Server(port=port, env=env).start()
    clients = [Client(n, port, world["key"], world["accounts"]) for n in range(CLIENTS)]
    deadline = time.monotonic() + DEADLINE
    threads = [threading.Thread(target=c.run, args=(deadline,)) for c in clients]
    try:
        for thread in threads:
            thread.start()
        while sum(len(c.acked) for c in clients) < KILL_AFTER_ACKS:
            assert time.monotonic() < deadline, "no payment acknowledged before the kill"
            time.sleep(0.01)
        server.kill(signal.SIGKILL)
        acked_before_restart = sum(len(c.acked) for c in clients)
        time.sleep(0.3)
        server = Server(port=port, env=env).start()
        for thread in threads:
            thread.join(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        server.stop()
    assert not any(thread.is_alive() for thread in threads), "clients did not finish"
    assert [r for c in clients for r in c.refused] == []
    assert sum(c.retries for c in clients) > 0, "the kill interrupted no request"
    acked = {key: pid for c in clients for key, pid in c.acked.items()}
    assert len(acked) == CLIENTS * PAYMENTS_PER_CLIENT  # every payment answered in the end
    assert acked_before_restart < len(acked)  # and some only after the restart

    books = _kit(database, "verify")
    rows = {key: (pid, amount, doc) for pid, key, amount, doc, centre in books["payments"]}
    assert len(books["payments"]) == len(rows) == len(acked)  # nothing posted twice or lost
    for key, pid in acked.items():
        assert key in rows, f"acknowledged payment {key} missing from the ledger"
        assert rows[key][0] == pid  # the id the client was given is the one in the books
        amount = next(c.amounts[key] for c in clients if key in c.amounts)
        assert rows[key][1] == amount
    assert books["duplicate_keys"] == []
    assert books["documents_without_payment"] == []
    assert books["payments_without_document"] == []
    assert books["violations"] == []
