"""Build the demo utility in the database: settings, roles and users, then the generated
cadastre and opening cartera loaded through the same imports a migrating utility uses.
"""

from __future__ import annotations

import gc
import io
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
from django.conf import settings
from django.core.management import call_command, get_commands
from django.db import connection, transaction

from caudal.kernel.errors import ImportResult

from .data import Profile
from .generator import DemoSpec, Topology, generate, utility_settings, write_csvs

#: The password of every demo user. For the demo only: never use it on real data.
DEMO_PASSWORD = "caudal-demo-2026"  # noqa: S105 (a published demo credential)

#: (username, role group, first name, last name): one user per role, plus ``admin``.
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("gerente", "manager", "Gabriela", "Gerente"),
    ("analista.cartera", "cartera_analyst", "Andrés", "Cartera"),
    ("coordinador.cartera", "cartera_coordinator", "Cecilia", "Coordinación"),
    ("analista.facturacion", "billing_analyst", "Fabiola", "Facturación"),
    ("cajero", "cashier", "Carlos", "Caja"),
    ("supervisor.recaudo", "cash_supervisor", "Susana", "Recaudo"),
    ("oficial.cobranza", "collections_officer", "Olga", "Cobranza"),
    ("supervisor.campo", "field_supervisor", "Santiago", "Campo"),
    ("operario.campo", "field_worker", "Óscar", "Operario"),
    ("atencion.cliente", "customer_service", "Ana", "Atención"),
    ("auditor", "auditor", "Aurelio", "Auditor"),
)
ADMIN_USER = "admin"
DEMO_ACTOR = "caudal-demo"
URL = "http://127.0.0.1:8000"


class DemoError(Exception):
    """The demo could not be built (an import refused the generated files)."""


@dataclass
class BuildReport:
    spec: DemoSpec
    folder: Path
    stages: list[tuple[str, float]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    cadastre: ImportResult | None = None
    balances: ImportResult | None = None

    @property
    def seconds(self) -> float:
        return sum(s for _name, s in self.stages)


Progress = Callable[[str], Any]


@contextmanager
def _stage(report: BuildReport, name: str, progress: Progress | None) -> Iterator[None]:
    if progress:
        progress(name)
    start = time.perf_counter()
    yield
    report.stages.append((name, time.perf_counter() - start))


def demo_folder() -> Path:
    return Path(settings.VAR_DIR) / "demo"


def build_demo(
    spec: DemoSpec, *, folder: Path | None = None, progress: Progress | None = None
) -> BuildReport:
    """Generate the CSV files, then load them. The database must be migrated and empty.

    The generated frames are dropped before the imports run: at 2.5 million accounts they
    hold several GB that the imports need for themselves.
    """
    from caudal.cadastre.imports import import_cadastre
    from caudal.ledger.imports import import_balances

    folder = folder or demo_folder()
    report = BuildReport(spec=spec, folder=folder)
    with _stage(report, "generate", progress):
        demo = generate(spec)
    with _stage(report, "write CSV", progress):
        paths = write_csvs(demo, folder)
        report.counts = {
            "accounts": demo.accounts.height,
            "customers": int(
                demo.accounts.select(pl.struct("doc_type", "doc_number").n_unique()).item()
            ),
            "items": demo.balances.height,
            "documents": int(demo.balances["document_reference"].n_unique()),
            "cartera_minor": int(demo.balances["amount"].sum()),
        }
        topology, profile = demo.topology, demo.profile
        history = demo.history
        account_cycles = demo.accounts.select("account_number", "cycle")
        del demo
        gc.collect()
    with _stage(report, "settings, roles, users", progress):
        setup_utility(profile)
        ensure_demo_users()
    with _stage(report, "import cadastre", progress):
        report.cadastre = import_cadastre(
            paths["cadastre"], actor=DEMO_ACTOR, country=profile.country
        )
        _check(report.cadastre, paths["cadastre"])
    with _stage(report, "names and calendars", progress):
        name_places(topology)
    with _stage(report, "import balances", progress):
        report.balances = import_balances(paths["balances"], actor=DEMO_ACTOR)
    _check(report.balances, paths["balances"])
    if history is not None:
        from .billing_history import bill_history

        with _stage(report, "readings, critique, billing, payments", progress):
            report.counts.update(
                bill_history(
                    history,
                    profile=profile,
                    accounts=account_cycles,
                    folder=folder,
                    as_of=spec.as_of,
                    actor=DEMO_ACTOR,
                    progress=progress,
                )
            )
        from .cartera import cartera_history

        with _stage(report, "cartera: complaints, agreements, snapshots, indicators", progress):
            report.counts.update(
                cartera_history(
                    as_of=spec.as_of, first=spec.as_of - timedelta(days=100), actor=DEMO_ACTOR
                )
            )
    if "update_search_index" in get_commands():
        with _stage(report, "search index", progress):
            # The web app owns the search index; call it by name (no import across layers)
            # so the first search after the build does not index 2.5 M names itself.
            call_command("update_search_index", stdout=io.StringIO())
    return report


def _check(result: ImportResult, path: Path) -> None:
    if result.errors:
        shown = "\n".join(f"  {e}" for e in result.errors[:10])
        more = len(result.errors) - 10
        tail = f"\n  … and {more} more" if more > 0 else ""
        raise DemoError(f"{path.name}: {len(result.errors)} errors\n{shown}{tail}")


def setup_utility(profile: Profile) -> None:
    """The utility settings row of the profile (configuration, not ledger data)."""
    from caudal.audit.actions import record
    from caudal.cadastre.models import UtilitySettings

    values = utility_settings(profile)
    UtilitySettings.objects.update_or_create(pk=1, defaults=values)
    record(
        actor=DEMO_ACTOR,
        action="demo.utility_settings",
        object_type="cadastre.utilitysettings",
        object_id=1,
        after=values,
    )


def ensure_demo_users() -> list[tuple[str, str, str]]:
    """The role groups, one user per role and the ``admin`` superuser, all with
    :data:`DEMO_PASSWORD`. Returns (role label, username, group) rows."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from caudal.audit.actions import record
    from caudal.audit.roles import ROLES, ensure_roles

    ensure_roles()
    user_model = get_user_model()
    password = make_password(DEMO_PASSWORD)  # hashed once: every demo user shares it
    rows: list[tuple[str, str, str]] = []
    with transaction.atomic():
        admin, _ = user_model.objects.get_or_create(
            username=ADMIN_USER,
            defaults={"first_name": "Administrador", "last_name": "Demo", "is_staff": True},
        )
        admin.is_staff = admin.is_superuser = True
        admin.password = password
        admin.save()
        rows.append(("Administrador (superusuario)", ADMIN_USER, ""))
        for username, group_name, first, last in DEMO_USERS:
            user, _ = user_model.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last}
            )
            user.password = password
            user.save()
            user.groups.set([Group.objects.get(name=group_name)])
            rows.append((ROLES[group_name][0], username, group_name))
        record(
            actor=DEMO_ACTOR,
            action="demo.users",
            object_type="auth.user",
            after={"users": [u for _label, u, _g in rows]},
            reason="Usuarios de demostración (contraseña solo para la demo)",
        )
    return rows


def name_places(topo: Topology) -> None:
    """Give zones, sectors, routes and cycles their names and calendars, and municipalities
    their department and altitude (the cadastre file carries codes only). Configuration
    data, written in bulk: one statement per table."""
    with transaction.atomic(), connection.cursor() as cursor:
        for table, frame, cols in (
            ("cadastre_zone", topo.zones, ("name",)),
            ("cadastre_sector", topo.sectors, ("name",)),
            ("cadastre_route", topo.routes, ("name",)),
            ("cadastre_cycle", topo.cycles, ("name", "reading_day", "billing_day", "due_days")),
            ("cadastre_municipality", topo.municipalities, ("name", "department", "altitude_m")),
        ):
            assignments = ", ".join(f"{c} = %s" for c in cols)
            cursor.executemany(
                f"UPDATE {table} SET {assignments} WHERE code = %s",
                [(*(row[c] for c in cols), row["code"]) for row in frame.iter_rows(named=True)],
            )


def database_counts() -> dict[str, int]:
    """What the database holds after a build (for the summary and the benchmarks)."""
    with connection.cursor() as cursor:
        out: dict[str, int] = {}
        for key, sql in (
            ("accounts", "SELECT COUNT(*) FROM cadastre_account"),
            ("customers", "SELECT COUNT(*) FROM cadastre_customer"),
            ("documents", "SELECT COUNT(*) FROM ledger_document"),
            ("items", "SELECT COUNT(*) FROM ledger_openitem"),
            ("open_items", "SELECT COUNT(*) FROM ledger_openitem WHERE open_amount > 0"),
        ):
            cursor.execute(sql)
            out[key] = int(cursor.fetchone()[0])
    return out
