"""Cartera pages under ``/cartera/``: snapshots (home), testigos, follow-ups, indicators and
the dashboard (CMO). One module per area."""

from .dashboard_urls import urlpatterns as dashboard_patterns
from .followup_urls import urlpatterns as followup_patterns
from .kpi_urls import urlpatterns as kpi_patterns
from .snapshot_urls import urlpatterns as snapshot_patterns
from .testigo_urls import urlpatterns as testigo_patterns

urlpatterns = [
    *snapshot_patterns,
    *testigo_patterns,
    *followup_patterns,
    *kpi_patterns,
    *dashboard_patterns,
]
