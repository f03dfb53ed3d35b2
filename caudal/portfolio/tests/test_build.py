"""build.py without a database: column-wise stages and buckets equal the pure rules, and
the bucket columns add up to the balance."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from caudal.portfolio import build, rules, schema, synthetic

ON = date(2026, 10, 31)
RULES = (
    rules.StageRuleSpec(1, "vip_coactiva", "VIP coactiva", 181, None, 0, "vip", "Grandes"),
    rules.StageRuleSpec(2, "coactiva", "Coactiva", 361, None, 100_00, "", "DJC"),
    rules.StageRuleSpec(3, "persuasiva", "Persuasiva", 91, 360, 0, "", "Persuasivo"),
    rules.StageRuleSpec(4, "prejuridica", "Prejurídica", 31, 90, 0, "", "Prejurídico"),
    rules.StageRuleSpec(5, "current", "Corriente", 0, None, 0, "", "Zona"),
)
POLICIES = build.Policies(stage_rules=RULES)

item_st = st.tuples(
    st.integers(1, 6),  # account
    st.sampled_from(["D", "D", "D", "C"]),
    st.integers(-40, 900),  # days past due at ON
    st.integers(1, 50_000),  # open amount
    st.booleans(),  # blocked
    st.sampled_from(["bill", "agreement", "fee"]),
)


def _frames(rows: list[tuple[int, str, int, int, bool, str]]) -> build.Frames:
    items = pl.DataFrame(
        {
            "item_id": list(range(1, len(rows) + 1)),
            "account_id": [r[0] for r in rows],
            "document_id": list(range(1, len(rows) + 1)),
            "document_kind": [r[5] if r[1] == "D" else "payment" for r in rows],
            "concept": ["water" if r[1] == "D" else "payment" for r in rows],
            "side": [r[1] for r in rows],
            "issue_date": [ON - timedelta(days=max(r[2], 0) + 20) for r in rows],
            "due_date": [ON - timedelta(days=r[2]) for r in rows],
            "amount": [r[3] for r in rows],
            "open_amount": [r[3] for r in rows],
            "blocked": [r[4] and r[1] == "D" for r in rows],
        },
        schema=build.RAW_ITEM_SCHEMA,
    )
    accounts = pl.DataFrame(
        {
            "account_id": list(range(1, 7)),
            "account_number": [f"A{i}" for i in range(1, 7)],
            "category": ["domestic"] * 6,
            "stratum": [1, 2, 3, None, 5, 6],
            "segment": ["vip", "regular", "regular", "regular", "vip", "regular"],
            "cycle": ["C1"] * 6,
            "zone": ["Z1", "Z2", "Z1", "Z2", "Z1", "Z2"],
            "municipality": ["M1"] * 6,
            "sector": ["S1"] * 6,
            "route": ["R1"] * 6,
            "holder_name": ["x"] * 6,
            "address": ["y"] * 6,
        },
        schema=build.RAW_ACCOUNT_SCHEMA,
    )
    return build.build_frames(ON, items, accounts, POLICIES)


@settings(max_examples=80, deadline=None)
@given(st.lists(item_st, min_size=1, max_size=40))
def test_columnwise_rules_equal_the_pure_rules(rows):
    frames = _frames(rows)
    segments = {1: "vip", 5: "vip"}
    for acc in frames.accounts.iter_rows(named=True):
        mine = [r for r in rows if r[0] == acc["account_id"]]
        debits = [r for r in mine if r[1] == "D"]
        days = [max(0, r[2]) for r in debits]
        collectible = [max(0, r[2]) for r in debits if not r[4]]
        overdue = sum(r[3] for r in debits if r[2] >= 1 and not r[4])
        assert acc["max_days_past_due"] == max(days, default=0)
        assert acc["collectible_days"] == max(collectible, default=0)
        assert acc["collectible_overdue"] == overdue
        expected = rules.classify_stage(
            acc["collectible_days"], overdue, segments.get(acc["account_id"], "regular"), RULES
        )
        assert (acc["stage"], acc["responsible"]) == (expected.stage, expected.responsible)
        assert acc["bucket"] == rules.bucket_of(acc["max_days_past_due"], POLICIES.bounds)
        assert acc["testigo"] == ("vigente" if acc["max_days_past_due"] == 0 else "vencida")
        assert acc["in_agreement"] == any(r[5] == "agreement" for r in debits)
        aged = sum(acc[c] for c in schema.bucket_columns(POLICIES.bucket_codes))
        assert aged - acc["credit_amount"] == acc["balance"]
        assert acc["balance"] == sum(r[3] if r[1] == "D" else -r[3] for r in mine)
    for item in frames.items.iter_rows(named=True):
        if item["side"] == "D":
            assert item["bucket"] == rules.bucket_of(item["days_past_due"], POLICIES.bounds)
        else:
            assert item["bucket"] == rules.CREDIT_BUCKET and item["days_past_due"] == 0


def test_synthetic_folder_is_schema_true_and_cube_adds_up(tmp_path):
    manifest = synthetic.write_folder(tmp_path / "s", on=ON, accounts=3000, seed=3)
    items = pl.read_parquet(tmp_path / "s" / schema.ITEMS)
    accounts = pl.read_parquet(tmp_path / "s" / schema.ACCOUNTS)
    cube = pl.read_parquet(tmp_path / "s" / schema.CUBE)
    assert tuple(items.columns) == schema.ITEM_COLUMNS
    assert tuple(accounts.columns[: len(schema.ACCOUNT_COLUMNS)]) == schema.ACCOUNT_COLUMNS
    assert accounts.columns[len(schema.ACCOUNT_COLUMNS) :] == [
        *manifest["bucket_columns"],
        "credit_amount",
    ]
    assert int(items["signed_amount"].sum()) == manifest["totals"]["balance"]
    assert int(cube["balance"].sum()) == manifest["totals"]["balance"]
    assert int(cube["accounts"].sum()) == accounts.height == manifest["totals"]["accounts"]
    aged = cube.select(pl.sum_horizontal(manifest["bucket_columns"])).to_series().sum()
    assert aged - int(cube["credit_amount"].sum()) == manifest["totals"]["balance"]
    assert set(manifest["files"]) >= {schema.ITEMS, schema.ACCOUNTS, schema.CUBE, schema.MONTHS}
