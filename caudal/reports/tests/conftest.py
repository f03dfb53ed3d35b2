"""Fixtures of the management report tests: two month-end snapshots written by the
production snapshot build (caudal.portfolio.build) from a small hand-made cartera whose
figures are worked out by hand in the tests, and users of the cartera roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from caudal.portfolio import build, rules

ON = date(2025, 6, 30)
PREV = date(2025, 5, 31)

AGENCY = "Agencia Recupera S.A.S."
STAGES: tuple[rules.StageRuleSpec, ...] = (
    rules.StageRuleSpec(1, "coactiva", "Cobro coactivo", 361, None, 0, "", "Jurisdicción Coactiva"),
    rules.StageRuleSpec(2, "persuasiva", "Cobro persuasivo", 91, 360, 0, "vip", AGENCY),
    rules.StageRuleSpec(3, "persuasiva", "Cobro persuasivo", 91, 360, 0, "", "Persuasivo DJC"),
    rules.StageRuleSpec(4, "prejuridica", "Cobro prejurídico", 31, 90, 0, "", "Prejurídico DJC"),
    rules.StageRuleSpec(5, "current", "Cartera corriente", 0, None, 0, "", "Comercial zona"),
)
NO_AGENCY: tuple[rules.StageRuleSpec, ...] = tuple(
    rules.StageRuleSpec(r.order, r.stage, r.name, r.min_days, r.max_days, 0, "", r.responsible)
    for r in STAGES
    if r.responsible != AGENCY
)

BLOCK_RESPONSIBLE = "Atención de PQR"

# account_id: (category, stratum, segment, zone)
ACCOUNTS = {
    1: ("domestic", 2, "regular", "Z01"),
    2: ("domestic", 3, "regular", "Z01"),
    3: ("commercial", None, "regular", "Z02"),
    4: ("domestic", 1, "vip", "Z02"),
    5: ("domestic", 2, "regular", "Z01"),
    6: ("domestic", 2, "regular", "Z02"),
    7: ("domestic", 4, "regular", "Z01"),
    8: ("commercial", None, "regular", "Z02"),
}

# (account_id, due_date, open_amount, side, blocked)
ITEMS_ON = [
    (1, date(2025, 7, 10), 5_000, "D", False),  # current
    (2, date(2025, 5, 1), 20_000, "D", False),  # 60 days: prejurídica (stayed)
    (3, date(2025, 2, 1), 80_000, "D", False),  # 149 days: persuasiva DJC (stayed)
    (3, date(2025, 6, 1), 10_000, "D", True),  # blocked, 29 days
    (4, date(2025, 1, 15), 50_000, "D", False),  # 166 days, VIP: agency (stayed)
    (5, date(2024, 5, 1), 120_000, "D", False),  # 425 days: coactiva
    (5, date(2025, 6, 15), 3_000, "C", False),  # unapplied money
    (7, date(2025, 5, 15), 9_000, "D", False),  # 46 days: prejurídica (entered)
    (8, date(2025, 6, 20), 4_000, "D", False),  # 10 days: current (left persuasiva)
]
ITEMS_PREV = [
    (1, date(2025, 6, 10), 5_000, "D", False),
    (2, date(2025, 4, 25), 15_000, "D", False),  # 36 days: prejurídica
    (3, date(2025, 2, 1), 80_000, "D", False),  # 119 days: persuasiva
    (4, date(2025, 1, 15), 50_000, "D", False),  # 136 days: agency
    (5, date(2024, 5, 1), 120_000, "D", False),  # 395 days: coactiva
    (6, date(2025, 4, 1), 7_000, "D", False),  # 60 days: prejurídica, paid in June
    (7, date(2025, 5, 15), 9_000, "D", False),  # 16 days: current
    (8, date(2025, 2, 20), 30_000, "D", False),  # 100 days: persuasiva, paid in June
]
# Hand-worked figures of the cut-off (see ITEMS_ON).
BALANCE_ON = 298_000 - 3_000
BALANCE_PREV = 316_000


def raw_frames(items: list[tuple[int, date, int, str, bool]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    raw_items = pl.DataFrame(
        {
            "item_id": list(range(1, len(items) + 1)),
            "account_id": [i[0] for i in items],
            "document_id": list(range(1, len(items) + 1)),
            "document_kind": ["payment" if i[3] == "C" else "bill" for i in items],
            "concept": ["payment" if i[3] == "C" else "water" for i in items],
            "side": [i[3] for i in items],
            "issue_date": [min(i[1], date(2025, 5, 1)) for i in items],
            "due_date": [i[1] for i in items],
            "amount": [i[2] for i in items],
            "open_amount": [i[2] for i in items],
            "blocked": [i[4] for i in items],
            "blocked_since": [date(2025, 5, 20) if i[4] else None for i in items],
            "block_case": ["PQR-77" if i[4] else "" for i in items],
            "block_responsible": [BLOCK_RESPONSIBLE if i[4] else "" for i in items],
        },
        schema={
            **build.RAW_ITEM_SCHEMA,
            "blocked_since": pl.Date,
            "block_case": pl.String,
            "block_responsible": pl.String,
        },
    )
    ids = sorted(ACCOUNTS)
    raw_accounts = pl.DataFrame(
        {
            "account_id": ids,
            "account_number": [f"{1000 + i}" for i in ids],
            "category": [ACCOUNTS[i][0] for i in ids],
            "stratum": [ACCOUNTS[i][1] for i in ids],
            "segment": [ACCOUNTS[i][2] for i in ids],
            "cycle": ["C01"] * len(ids),
            "zone": [ACCOUNTS[i][3] for i in ids],
            "municipality": ["M01"] * len(ids),
            "sector": ["S01"] * len(ids),
            "route": ["R01"] * len(ids),
            "holder_name": [f"Titular {i}" for i in ids],
            "address": [f"Calle {i}" for i in ids],
        },
        schema=build.RAW_ACCOUNT_SCHEMA,
    )
    return raw_items, raw_accounts


def write_snapshot_folder(
    folder: Path,
    on: date,
    items: list[tuple[int, date, int, str, bool]],
    *,
    stages: tuple[rules.StageRuleSpec, ...] = STAGES,
    previous: pl.DataFrame | None = None,
) -> Path:
    raw_items, raw_accounts = raw_frames(items)
    policies = build.Policies(stage_rules=stages, stage_policy="test")
    frames = build.build_frames(on, raw_items, raw_accounts, policies, previous)
    build.write_folder(folder, frames, policies)
    return folder


def make_snapshot(on: date, folder: Path, *, kind: str = "monthly"):
    from caudal.portfolio.models import Snapshot, SnapshotStatus

    return Snapshot.objects.create(date=on, kind=kind, status=SnapshotStatus.DONE, path=folder.name)


@dataclass
class World:
    snapshot: object
    previous: object
    root: Path


@pytest.fixture
def dirs(tmp_path, settings):
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    settings.CAUDAL_REPORT_DIR = tmp_path / "reports"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return tmp_path


def _world(root: Path, stages: tuple[rules.StageRuleSpec, ...]) -> World:
    prev_folder = write_snapshot_folder(root / PREV.isoformat(), PREV, ITEMS_PREV, stages=stages)
    previous_stages = pl.read_parquet(
        prev_folder / "accounts.parquet", columns=["account_id", "stage"]
    )
    folder = write_snapshot_folder(
        root / ON.isoformat(), ON, ITEMS_ON, stages=stages, previous=previous_stages
    )
    return World(make_snapshot(ON, folder), make_snapshot(PREV, prev_folder), root)


@pytest.fixture
def world(db, utility, dirs, settings) -> World:
    return _world(Path(settings.CAUDAL_SNAPSHOT_DIR), STAGES)


@pytest.fixture
def world_without_agency(db, utility, dirs, settings) -> World:
    return _world(Path(settings.CAUDAL_SNAPSHOT_DIR), NO_AGENCY)


@pytest.fixture
def roles(db):
    from caudal.audit.roles import ensure_roles

    ensure_roles()


def _user(username: str, group: str | None):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(
        username, email=f"{username}@eps.example", password="x", first_name=username.title()
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


@pytest.fixture
def analyst(roles):
    return _user("analista", "cartera_analyst")


@pytest.fixture
def coordinator(roles):
    return _user("coordinador", "cartera_coordinator")


@pytest.fixture
def manager(roles):
    return _user("gerente", "manager")


@pytest.fixture
def officer(roles):
    return _user("gestor", "collections_officer")


@pytest.fixture
def cashier(roles):
    return _user("cajero", "cashier")


@pytest.fixture(autouse=True)
def _default_policies(request):
    """The seeded indicator formulas and policies, which a transactional test run earlier
    in the same worker may have flushed away."""
    if "db" in request.fixturenames or "transactional_db" in request.fixturenames:
        from caudal.portfolio.defaults import ensure_defaults

        ensure_defaults()
