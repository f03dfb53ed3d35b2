"""The generator without a database: determinism, distributions, identity documents."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from stdnum.co import nit
from stdnum.pe import ruc

from caudal.demo.generator import (
    DemoData,
    DemoSpec,
    generate,
    nit_check_digits,
    ruc_check_digits,
    unique_ints,
    utility_settings,
    write_csvs,
)

AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def pe() -> DemoData:
    return generate(
        DemoSpec(accounts=20_000, months=12, profile="pe", seed=3, as_of=AS_OF, billed_periods=0)
    )


@pytest.fixture(scope="module")
def co() -> DemoData:
    return generate(
        DemoSpec(accounts=20_000, months=12, profile="co", seed=3, as_of=AS_OF, billed_periods=0)
    )


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("profile", ["pe", "co"])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, profile: str) -> None:
    def files(seed: int, name: str) -> dict[str, bytes]:
        spec = DemoSpec(accounts=500, months=12, profile=profile, seed=seed, as_of=AS_OF)
        write_csvs(generate(spec), tmp_path / name)
        return _bytes(tmp_path / name)

    first, again, other = files(7, "a"), files(7, "b"), files(8, "c")
    assert first == again
    assert first.keys() == {"cadastre.csv", "balances.csv"}
    assert first["cadastre.csv"] != other["cadastre.csv"]
    assert first["balances.csv"] != other["balances.csv"]


def test_category_mix_metering_and_vip(pe: DemoData) -> None:
    acc = pe.accounts
    share = dict(acc["category"].value_counts(normalize=True).iter_rows())
    assert 0.85 <= share["domestic"] <= 0.91
    assert 0.06 <= share["commercial"] <= 0.10
    assert {"social", "state", "industrial"} <= share.keys()
    metered = acc["meter_serial"].is_not_null().sum() / acc.height
    assert 0.87 <= metered <= 0.93
    vip = (acc["segment"] == "vip").sum() / acc.height
    assert 0.012 <= vip <= 0.03
    vip_cats = set(acc.filter(pl.col("segment") == "vip")["category"].unique())
    assert vip_cats <= {"commercial", "industrial", "state", "domestic"}
    industrial = acc.filter(pl.col("category") == "industrial")
    assert (industrial["segment"] == "vip").sum() > 0.3 * industrial.height
    statuses = dict(acc["water_status"].value_counts(normalize=True).iter_rows())
    assert statuses["active"] > 0.8
    assert 0.005 <= statuses["clandestine"] <= 0.02
    assert {"cut", "removed"} <= statuses.keys()


def test_chronic_debtors_carry_older_items(pe: DemoData) -> None:
    items = pe.balances.join(
        pe.accounts.select(pl.col("account_number").cast(pl.String), "behaviour", "water_status")
        .with_row_index("acct")
        .with_columns(pl.col("acct").cast(pl.Int64)),
        on="acct",
    )
    oldest = items.group_by("behaviour").agg(pl.col("issue_date").min(), pl.len())
    first = dict(oldest.select("behaviour", "issue_date").iter_rows())
    assert first["chronic"] < first["late"] < AS_OF
    assert (AS_OF - first["chronic"]).days > 3 * 365  # debts several years old
    # punctual accounts: at most the current bill, never overdue (credits aside)
    punctual = items.filter((pl.col("behaviour") == "punctual") & (pl.col("concept") != "credit"))
    assert (
        punctual.group_by("acct")
        .agg(pl.col("document_reference").n_unique())["document_reference"]
        .max()
        == 1
    )
    # inactive accounts: only old debt
    inactive = items.filter(pl.col("behaviour") == "inactive")
    assert inactive.filter(pl.col("issue_date") >= date(2025, 5, 1)).is_empty()
    # a few credits in favour of the customer
    credits = items.filter(pl.col("concept") == "credit")
    assert credits.height > 0
    assert (credits["amount"] < 0).all()
    assert (items.filter(pl.col("concept") != "credit")["amount"] > 0).all()


def test_due_dates_and_concepts(pe: DemoData, co: DemoData) -> None:
    bills = pe.balances.filter(pl.col("concept") != "credit")
    assert ((bills["due_date"] - bills["issue_date"]).dt.total_days() == 20).all()
    assert set(pe.balances["concept"].cast(pl.String).unique()) == {
        "water",
        "sewer",
        "fixed",
        "tax",
        "credit",
    }
    assert "tax" not in set(co.balances["concept"].cast(pl.String).unique())
    # COP amounts are whole pesos
    assert (co.balances["amount"] % 100 == 0).all()


def test_strata_colombia_only(pe: DemoData, co: DemoData) -> None:
    assert pe.accounts["stratum"].is_null().all()
    residential = co.accounts.filter(pl.col("category").is_in(["domestic", "social"]))
    assert residential["stratum"].is_between(1, 6).all()
    others = co.accounts.filter(~pl.col("category").is_in(["domestic", "social"]))
    assert others["stratum"].is_null().all()
    share = residential["stratum"].value_counts(normalize=True)
    mid = share.filter(pl.col("stratum").is_in([2, 3]))["proportion"].sum()
    assert mid > 0.5
    assert set(residential["stratum"].unique()) == {1, 2, 3, 4, 5, 6}


def test_identity_documents_are_valid(pe: DemoData, co: DemoData) -> None:
    for demo, validator, tax_type in ((pe, ruc, "RUC"), (co, nit, "NIT")):
        acc = demo.accounts
        tax = acc.filter(pl.col("doc_type") == tax_type)["doc_number"].unique().to_list()
        assert len(tax) > 100
        for number in tax:
            assert validator.is_valid(number), number
        settings = utility_settings(demo.profile)
        assert validator.is_valid(settings["tax_id"])
        # a document identifies one customer: the same name wherever it appears
        per_doc = acc.group_by("doc_type", "doc_number").agg(pl.col("customer_name").n_unique())
        assert (per_doc["customer_name"] == 1).all()
    dni = pe.accounts.filter(pl.col("doc_type") == "DNI")["doc_number"]
    assert dni.str.contains(r"^[0-9]{8}$").all()
    cc = co.accounts.filter(pl.col("doc_type") == "CC")["doc_number"]
    assert cc.str.contains(r"^[1-9][0-9]{7,9}$").all()
    assert set(co.accounts["doc_type"].unique()) <= {"CC", "CE", "NIT"}
    gln = utility_settings(co.profile)["gln"]
    assert re.fullmatch(r"[0-9]{13}", gln)


def test_vectorized_check_digits_match_stdnum() -> None:
    rng = np.random.default_rng(5)
    bases = rng.integers(2_000_000_000, 2_099_999_999, 2000)
    for base, check in zip(bases, ruc_check_digits(bases), strict=True):
        assert ruc.calc_check_digit(str(base)) == str(check)
    bases = rng.integers(800_000_000, 999_999_999, 2000)
    for base, check in zip(bases, nit_check_digits(bases), strict=True):
        assert nit.calc_check_digit(str(base)) == str(check)


def test_unique_ints_are_unique_and_in_range() -> None:
    values = unique_ints(np.random.default_rng(1), 10, 1_000, 990)
    assert len(set(values.tolist())) == 990
    assert values.min() >= 10
    assert values.max() < 1_000


def test_names_addresses_and_places(pe: DemoData, co: DemoData) -> None:
    surnames = pe.accounts["customer_name"].str.contains("Quispe|Mamani|Huamán|Condori")
    assert surnames.sum() > 0.1 * pe.accounts.height
    assert (
        pe.accounts["address"]
        .str.contains(r"^(Av\.|Jr\.|Calle|Psje\.|APV|AA\.HH\.|Urb\.|Plaza|Cuesta)")
        .all()
    )
    assert co.accounts["address"].str.contains(r" # [0-9]+[A-Z ]*-[0-9]{2}").all()
    assert "Wanchaq" in pe.topology.municipalities["name"].to_list()
    assert "Soacha" in co.topology.municipalities["name"].to_list()
    routes = pe.accounts.group_by("route").len()
    assert routes.filter(~pl.col("len").is_between(250, 550)).is_empty()
    assert pe.topology.cycles.height >= 10
    assert pe.accounts["account_number"].n_unique() == pe.accounts.height
    assert pe.accounts["cadastral_code"].n_unique() == pe.accounts.height
    assert co.accounts["cadastral_code"].n_unique() == co.accounts.height
