"""Small builders for tests and benchmarks: a minimal cadastre with N accounts.

Not for production data: imports and the demo generator are the real ways in.
"""

from __future__ import annotations

import itertools
from datetime import date

from .models import (
    Account,
    Connection,
    ConnectionStatus,
    Customer,
    Cycle,
    DocumentType,
    Municipality,
    Property,
    Route,
    Sector,
    Segment,
    Service,
    UseCategory,
    UtilitySettings,
    Zone,
)

_counter = itertools.count(1)


def make_utility(country: str = "PE") -> UtilitySettings:
    utility, _ = UtilitySettings.objects.update_or_create(
        pk=1,
        defaults={
            "name": "EPS Demo S.A." if country == "PE" else "Acueducto Demo E.S.P.",
            "country": country,
            "currency": "PEN" if country == "PE" else "COP",
            "tax_id": "20100152356" if country == "PE" else "8999990941",
            "time_zone": "America/Lima" if country == "PE" else "America/Bogota",
        },
    )
    return utility


def make_route(code: str = "R01") -> Route:
    muni, _ = Municipality.objects.get_or_create(code="M01", defaults={"name": "Centro"})
    zone, _ = Zone.objects.get_or_create(
        code="Z01", defaults={"name": "Zona 1", "municipality": muni}
    )
    sector, _ = Sector.objects.get_or_create(
        code="S01", defaults={"name": "Sector 1", "zone": zone}
    )
    cycle, _ = Cycle.objects.get_or_create(code="C01", defaults={"name": "Ciclo 1"})
    route, _ = Route.objects.get_or_create(code=code, defaults={"sector": sector, "cycle": cycle})
    return route


def make_account(
    number: str | None = None,
    *,
    name: str = "Juan Pérez Quispe",
    category: str = UseCategory.DOMESTIC,
    segment: str = Segment.REGULAR,
    stratum: int | None = None,
    address: str = "Jr. Lima 123",
    doc_number: str | None = None,
) -> Account:
    n = next(_counter)
    number = number or f"{10000000 + n}"
    route = make_route()
    customer = Customer.objects.create(
        doc_type=DocumentType.DNI, doc_number=doc_number or f"{40000000 + n}", name=name
    )
    prop = Property.objects.create(
        cadastral_code=f"CAT-{number}",
        address=address,
        municipality=route.sector.zone.municipality,
        zone=route.sector.zone,
        sector=route.sector,
        route=route,
        sequence=n,
    )
    account = Account.objects.create(
        number=number,
        customer=customer,
        property=prop,
        category=category,
        segment=segment,
        stratum=stratum,
        cycle=route.cycle,
        opened_on=date(2020, 1, 1),
    )
    for service in (Service.WATER, Service.SEWER):
        Connection.objects.create(
            account=account,
            service=service,
            status=ConnectionStatus.ACTIVE,
            status_since=date(2020, 1, 1),
        )
    return account
