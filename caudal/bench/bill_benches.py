"""``bill-pdf``: how fast bills become PDF, and sample bills to measure (and test) with.

``caudal bench bill-pdf --size N`` builds one route of ``N`` accounts with twelve periods of
bills each (the eleven earlier ones feed the consumption chart), then measures

- ``single_bills_per_s``: ``render_bill`` one bill after another in this process (one core):
  query, HTML, layout, PDF, for a sample of bills;
- ``seconds`` / ``rate_per_s``: ``render_batch`` of the whole route in route order (the
  delivery batch), with the PDF's size in ``batch_mb`` and its page count.

The builders below (``sample_tariff``, ``make_sample_accounts``, ``make_sample_bills``) write
plausible bills straight to the tables (SEDAPAL 2015 domestic rates for Peru; a Colombian
estrato-based tariff with subsidies and contributions): the bill document's tests, the
documentation images and this benchmark share them. They are samples, not the billing run.
"""

from __future__ import annotations

import itertools
import random
import resource
import time
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from caudal.bench.harness import benchmark
from caudal.billing.barcode import gs1_check_digit
from caudal.billing.models import Bill
from caudal.cadastre.models import (
    Account,
    Customer,
    DocumentType,
    Property,
    Route,
    UseCategory,
    UtilitySettings,
)
from caudal.cadastre.testing import make_route, make_utility
from caudal.kernel.periods import Period
from caudal.metering.models import Reading, ReadingSource, ReadingStatus
from caudal.tariffs.models import TariffVersion

SAMPLE_GLN = "7709998039933"  # the GS1 Colombia collection GLN of the public example

# (label, from m³, to m³ or None, water rate, sewer rate): SEDAPAL 2015, S/ per m³ before IGV
PE_BLOCKS: dict[str, list[tuple[str, int, int | None, str, str]]] = {
    UseCategory.DOMESTIC: [
        ("0–10 m³", 0, 10, "1.116", "0.504"),
        ("10–25 m³", 10, 25, "1.295", "0.586"),
        ("25–50 m³", 25, 50, "2.865", "1.293"),
        ("más de 50 m³", 50, None, "4.858", "2.193"),
    ],
    UseCategory.SOCIAL: [("0 a más", 0, None, "1.116", "0.504")],
    UseCategory.COMMERCIAL: [
        ("0–1000 m³", 0, 1000, "4.858", "2.193"),
        ("más de 1000 m³", 1000, None, "5.212", "2.352"),
    ],
}
PE_FIXED = "4.886"
PE_IGV = Decimal("0.18")

# Colombia: cargo fijo and consumption rate per m³ (pesos), basic consumption 11 m³ (above
# 2,000 m), subsidy (−) or contribution (+) percentage by stratum.
CO_FIXED = {"water": "6512.40", "sewer": "3987.15"}
CO_RATE = {"water": "2450.35", "sewer": "1980.10"}
CO_BASIC_M3 = 11
CO_FACTOR = {1: -70, 2: -40, 3: -15, 4: 0, 5: 50, 6: 60}

FIRST_NAMES = [
    "Rosa",
    "Juan",
    "María",
    "Luis",
    "Carmen",
    "José",
    "Ana",
    "Pedro",
    "Lucía",
    "Jorge",
    "Elena",
    "Víctor",
]
LAST_NAMES = [
    "Quispe",
    "Mamani",
    "Huamán",
    "Flores",
    "Rojas",
    "García",
    "Torres",
    "Vargas",
    "Castillo",
    "Ramírez",
]
STREETS = ["Av. Huancavelica", "Jr. Lima", "Calle Real", "Av. Los Incas", "Psje. Santa Rosa"]

_numbers = itertools.count(1)


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def sample_tariff(country: str) -> TariffVersion:
    code = "SEDAPAL-2015" if country == "PE" else "ACUEDUCTO-DEMO-2026"
    tariff, _created = TariffVersion.objects.get_or_create(
        code=code,
        version=1,
        defaults={
            "name": "Estructura tarifaria SEDAPAL"
            if country == "PE"
            else "Tarifa acueducto y alcantarillado",
            "country": country,
            "valid_from": date(2015, 6, 1) if country == "PE" else date(2026, 1, 1),
            "resolution": "RCD 022-2015-SUNASS-CD" if country == "PE" else "Acuerdo 014 de 2025",
            "document": {"code": code, "sample": True},
            "source_text": f"code: {code}\n",
            "sha256": "0" * 64,
        },
    )
    return tariff


def _line(
    concept: str,
    description: str,
    block: str | None,
    volume: int | None,
    rate: str,
    gross: int,
    amount: int,
    factor: int | None,
    tariff: TariffVersion,
    rule: str,
) -> dict[str, Any]:
    """One ``Bill.lines`` entry in the shape of ``caudal.billing.rules.BillLine`` (keys
    with no value left out)."""
    line = {
        "concept": concept,
        "description": description,
        "block": block,
        "volume": volume,
        "rate": rate or None,
        "factor": str(factor) if factor else None,
        "gross": gross,
        "amount": amount,
        "tariff": f"{tariff.code} v{tariff.version}",
        "rule": rule,
    }
    return {k: v for k, v in line.items() if v is not None}


def sample_lines(
    country: str, category: str, stratum: int | None, m3: int, tariff: TariffVersion, rule: str
) -> list[dict[str, Any]]:
    """Charge lines for ``m3`` cubic metres, as the bill row keeps them (minor units)."""
    lines = []
    if country == "PE":
        fixed = _round(Decimal(PE_FIXED) * 100)
        lines.append(
            _line("fixed", "Cargo fijo", None, None, PE_FIXED, fixed, fixed, None, tariff, rule)
        )
        blocks = PE_BLOCKS.get(category, PE_BLOCKS[UseCategory.DOMESTIC])
        for concept, index, name in (("water", 3, "Agua potable"), ("sewer", 4, "Alcantarillado")):
            for tier in blocks:
                low, high = tier[1], tier[2]
                volume = max(0, min(m3, high if high is not None else m3) - low)
                if volume <= 0:
                    continue
                rate = str(tier[index])
                amount = _round(Decimal(volume) * Decimal(rate) * 100)
                lines.append(
                    _line(concept, name, tier[0], volume, rate, amount, amount, None, tariff, rule)
                )
        base = sum(line["amount"] for line in lines)
        igv = _round(Decimal(base) * PE_IGV)
        lines.append(_line("tax", "IGV 18 %", None, None, "", igv, igv, None, tariff, rule))
        return lines
    factor = CO_FACTOR.get(stratum or 4, 0) if category == UseCategory.DOMESTIC else 50
    names = {"water": "Acueducto", "sewer": "Alcantarillado"}
    for concept in ("water", "sewer"):
        fixed_rate = Decimal(CO_FIXED[concept])
        gross = _round(fixed_rate) * 100
        amount = _round(fixed_rate * (100 + factor) / 100) * 100
        lines.append(
            _line(
                "fixed",
                f"{names[concept]} · cargo fijo",
                None,
                None,
                CO_FIXED[concept],
                gross,
                amount,
                factor,
                tariff,
                rule,
            )
        )
        basic = min(m3, CO_BASIC_M3)
        parts = [("consumo básico", f"0–{CO_BASIC_M3} m³", basic, factor)]
        if m3 > CO_BASIC_M3:
            # subsidies reach only the basic consumption; contributions the whole volume
            parts.append(
                (
                    "consumo complementario",
                    f"más de {CO_BASIC_M3} m³",
                    m3 - CO_BASIC_M3,
                    max(factor, 0),
                )
            )
        for name, block, volume, pct in parts:
            if volume <= 0:
                continue
            unit_rate = Decimal(CO_RATE[concept])
            gross = _round(unit_rate * volume) * 100
            amount = _round(unit_rate * volume * (100 + pct) / 100) * 100
            lines.append(
                _line(
                    concept,
                    f"{names[concept]} · {name}",
                    block,
                    volume,
                    CO_RATE[concept],
                    gross,
                    amount,
                    pct,
                    tariff,
                    rule,
                )
            )
    return lines


def make_sample_accounts(
    n: int,
    *,
    route: Route | None = None,
    category: str = UseCategory.DOMESTIC,
    stratum: int | None = None,
    seed: int = 7,
) -> list[Account]:
    """``n`` accounts on one route (bulk inserts), with holders and addresses."""
    rng = random.Random(seed)
    route = route or make_route()
    sector = route.sector
    zone = sector.zone
    base = next(_numbers) * 1_000_000
    customers = Customer.objects.bulk_create(
        Customer(
            doc_type=DocumentType.DNI,
            doc_number=f"9{base + i:011d}",
            name=f"{rng.choice(FIRST_NAMES)} {rng.choice(FIRST_NAMES)} "
            f"{rng.choice(LAST_NAMES)} {rng.choice(LAST_NAMES)}",
        )
        for i in range(n)
    )
    start_seq = Property.objects.filter(route=route).count()
    properties = Property.objects.bulk_create(
        Property(
            cadastral_code=f"PRED-{base + i}",
            address=f"{rng.choice(STREETS)} {rng.randint(100, 2999)}",
            municipality=zone.municipality,
            zone=zone,
            sector=sector,
            route=route,
            sequence=(start_seq + i + 1) * 10,
        )
        for i in range(n)
    )
    accounts = Account.objects.bulk_create(
        Account(
            number=f"{40_000_000 + base // 1000 + i}",
            customer=customers[i],
            property=properties[i],
            category=category,
            stratum=stratum,
            cycle=route.cycle,
            opened_on=date(2018, 1, 1),
        )
        for i in range(n)
    )
    if not accounts or accounts[0].pk is None:  # databases that return no ids
        accounts = list(Account.objects.filter(property__route=route).order_by("-pk")[:n][::-1])
    for account, prop, customer in zip(accounts, properties, customers, strict=True):
        account.property = prop
        account.customer = customer
    return accounts


def _messages(country: str, overdue: int, cut: date) -> list[dict[str, str]]:
    """Messages as the billing run writes them: ``{"code", "text"}``, notices first."""
    out = []
    if overdue >= 2:
        noun = "facturas vencidas" if country == "CO" else "recibos vencidos"
        out.append(
            {
                "code": "red_bill",
                "text": f"RECIBO ROJO: tiene {overdue} {noun}. Regularice su deuda para "
                "evitar el corte del servicio y el reporte a centrales de riesgo.",
            }
        )
        out.append(
            {
                "code": "cut_warning",
                "text": "AVISO DE CORTE: tiene deuda vencida. Si no la paga, el servicio "
                f"podrá ser suspendido a partir del {cut:%d/%m/%Y}.",
            }
        )
    out.append(
        {
            "code": "notice",
            "text": "Pague puntual y evite el corte: use la banca móvil o los agentes.",
        }
    )
    return out


def payment_reference(account_number: str, period: str, country: str) -> str:
    """A numeric reference with a GS1 mod-10 check digit (account + period in Colombia)."""
    digits = account_number if country == "PE" else f"{account_number}{period[2:4]}{period[5:7]}"
    return digits + str(gs1_check_digit(digits))


def make_sample_bills(
    accounts: list[Account],
    *,
    period: str,
    country: str,
    history: int = 11,
    red: set[int] | None = None,
    seed: int = 11,
    readings: bool = True,
) -> list[Bill]:
    """Bills of ``period`` for ``accounts`` plus ``history`` earlier periods (bulk inserts).

    ``red``: indexes (in ``accounts``) of accounts with two overdue bills and a red bill.
    Returns the bills of ``period`` in the order of ``accounts``.
    """
    rng = random.Random(seed)
    red = red or set()
    tariff = sample_tariff(country)
    months = 2 if UtilitySettings.current().periodicity == "bimonthly" else 1
    current = Period.parse(period, months=months)
    rows: list[Bill] = []
    reading_rows: list[Reading] = []
    wanted: list[Bill] = []
    for index, account in enumerate(accounts):
        base = rng.randint(8, 30)
        meter = rng.randint(1000, 9000)
        overdue = 2 if index in red else 0
        debt = 0
        for k, p in enumerate([*current.last(history), current]):
            m3 = max(0, base + rng.randint(-5, 6))
            latest = p == current
            lines = sample_lines(country, account.category, account.stratum, m3, tariff, "actual")
            amount = sum(line["amount"] for line in lines)
            previous_debt = debt if latest else 0
            issue = p.day(6, month_offset=p.months)
            bill = Bill(
                account=account,
                period=p.code,
                number=f"{'F' if country == 'CO' else 'R'}{p.code.replace('-', '')}-"
                f"{account.number}",
                payment_reference=payment_reference(account.number, p.code, country),
                route=account.property.route,
                issue_date=issue,
                due_date=issue + timedelta(days=20),
                cut_warning_date=issue + timedelta(days=30) if (latest and overdue) else None,
                category=account.category,
                stratum=account.stratum,
                units=account.units,
                tariff=tariff,
                meter_serial=f"MED-{account.number[-6:]}",
                previous_reading=meter,
                current_reading=meter + m3,
                consumption=m3,
                consumption_rule="actual",
                amount=amount,
                previous_debt=previous_debt,
                credit_applied=0,
                total_due=amount + previous_debt,
                overdue_bills=overdue if latest else 0,
                red=latest and overdue >= 2,
                lines=lines,
                messages=_messages(country, overdue, issue + timedelta(days=30)) if latest else [],
            )
            if latest:
                wanted.append(bill)
            elif k >= history - overdue:
                debt += amount
            rows.append(bill)
            if readings and k >= history - 1:
                read = p.day(20, month_offset=p.months - 1)
                reading_rows.append(
                    Reading(
                        account=account,
                        period=p.code,
                        route=account.property.route,
                        previous_value=meter,
                        value=meter + m3,
                        read_at=datetime(read.year, read.month, read.day, 15, tzinfo=UTC),
                        source=ReadingSource.HANDHELD,
                        status=ReadingStatus.OK,
                        consumption=m3,
                        consumption_rule="actual",
                    )
                )
            meter += m3
    Bill.objects.bulk_create(rows, batch_size=2000)
    Reading.objects.bulk_create(reading_rows, batch_size=2000)
    numbers = [b.number for b in wanted]
    by_number = {b.number: b for b in Bill.objects.filter(number__in=numbers)}
    return [by_number[n] for n in numbers]


def sample_utility(country: str) -> UtilitySettings:
    utility = make_utility(country)
    if country == "CO":
        utility.gln = SAMPLE_GLN
        utility.name = "Empresa de Acueducto y Alcantarillado Demo E.S.P."
        utility.save()
    else:
        utility.name = "EPS Demo S.A."
        utility.save()
    return utility


# --------------------------------------------------------------------------- benchmark


@benchmark(
    "bill-pdf",
    default_size=1_000,
    description="bill PDFs: render_bill one by one (per core), and a route batch of N bills",
)
def bench_bill_pdf(size: int, workdir: Path) -> dict[str, Any]:
    from caudal.billing.document import render_batch_result, render_bill

    sample_utility("PE")
    started = time.perf_counter()
    accounts = make_sample_accounts(size)
    bills = make_sample_bills(accounts, period="2026-10", country="PE", red=set(range(0, size, 17)))
    setup = time.perf_counter() - started

    render_bill(bills[0])  # warm: templates, fonts
    single = bills[1 : 1 + min(40, max(1, size - 1))]
    started, cpu = time.perf_counter(), time.process_time()
    single_bytes = 0
    for bill in single:
        single_bytes += len(render_bill(bill))
    single_seconds = time.perf_counter() - started
    single_cpu = time.process_time() - cpu

    route = bills[0].route
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    started, cpu = time.perf_counter(), time.process_time()
    batch = render_batch_result(Bill.objects.filter(period="2026-10", route=route))
    seconds = time.perf_counter() - started
    batch_cpu = time.process_time() - cpu
    (workdir / "batch.pdf").write_bytes(batch.pdf)
    return {
        "seconds": seconds,
        "rate_per_s": round(batch.bills / seconds, 1),
        "cpu_seconds": round(batch_cpu, 2),
        "batch_bills": batch.bills,
        "batch_pages": batch.pages,
        "batch_mb": round(len(batch.pdf) / 1_000_000, 2),
        "batch_bills_per_cpu_s": round(batch.bills / batch_cpu, 1),
        "single_bills": len(single),
        "single_seconds": round(single_seconds, 3),
        "single_bills_per_s": round(len(single) / single_seconds, 1),
        "single_bills_per_cpu_s": round(len(single) / single_cpu, 1),
        "single_kb_per_bill": round(single_bytes / len(single) / 1000, 1),
        "setup_seconds": round(setup, 1),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "max_rss_before_batch_mb": rss_before,  # the setup builds every sample row in memory
        "process": "one process, one core; *_per_cpu_s divide by the process's CPU time",
    }


# --------------------------------------------------------------------------- doc images


def write_sample_images(folder: Path, *, dpi: int = 110) -> list[Path]:
    """Render the documentation images ``bill-pe.png``, ``bill-pe-red.png`` and
    ``bill-co.png`` into ``folder`` from sample bills written in a transaction that is
    rolled back (the database is left as it was)::

        caudal shell -c "from pathlib import Path; from caudal.bench.bill_benches import \\
            write_sample_images; write_sample_images(Path('docs/img'))"
    """
    import pypdfium2 as pdfium
    from django.db import transaction

    from caudal.billing.document import render_bill

    written = []
    with transaction.atomic():
        for country, name, red in (("PE", "bill-pe", False), ("PE", "bill-pe-red", True),
                                   ("CO", "bill-co", False)):  # fmt: skip
            sample_utility(country)
            accounts = make_sample_accounts(1, stratum=2 if country == "CO" else None, seed=3)
            (bill,) = make_sample_bills(
                accounts, period="2026-10", country=country, red={0} if red else set(), seed=5
            )
            doc = pdfium.PdfDocument(render_bill(bill))
            path = folder / f"{name}.png"
            doc[0].render(scale=dpi / 72).to_pil().convert("RGB").save(path, optimize=True)
            doc.close()
            written.append(path)
        transaction.set_rollback(True)
    return written
