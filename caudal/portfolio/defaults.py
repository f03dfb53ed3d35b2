"""The default policies of the data migrations, on demand.

The migrations ``0002_default_policies`` (stage and aging policies) and ``0003_kpi_formulas``
(indicator formulas) fill an empty database. A transactional test's flush empties those
tables again, and the demo may run on such a database: :func:`ensure_defaults` puts the
same rows back when a table is empty (it never changes existing policies).
"""

from __future__ import annotations

import importlib

from django.apps import apps

_STAGES = "caudal.portfolio.migrations.0002_default_policies"
_KPIS = "caudal.portfolio.migrations.0003_kpi_formulas"


def ensure_defaults() -> None:
    from .models import AgingPolicy, KpiFormula, StagePolicy

    if not StagePolicy.objects.exists() and not AgingPolicy.objects.exists():
        importlib.import_module(_STAGES).create(apps, None)
    if not KpiFormula.objects.exists():
        importlib.import_module(_KPIS).create(apps, None)
