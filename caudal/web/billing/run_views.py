"""Billing runs in the web: the list, one run's progress and results, launching a run.

Viewing needs ``billing.view_bills``; launching or resuming a run (or a simulation) needs
``billing.run_billing``. A launched run is started as a separate process
(``caudal bill --run ID``, see :func:`launch`): the request returns at once with the page
of the new run, which polls its progress with htmx while the process works. A process,
not a thread of the web worker, because a billing run of millions of accounts outlives
a request and should outlive the web worker too (workers are recycled, and a thread would
die with them); if the process dies anyway the run stays resumable from its page.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from caudal.audit.models import Run, RunStatus
from caudal.billing import queries, rules, runs
from caudal.cadastre.models import Cycle
from caudal.kernel.errors import DomainError
from caudal.kernel.periods import Period

from ..context_processors import get_utility
from ..permissions import require_perms

VIEW = "billing.view_bills"
RUN = "billing.run_billing"
POLL_SECONDS = 3
RUNS_PAGE = 30
PROBLEMS_PAGE = 100


def _spawn(run: Run, actor: str) -> None:
    """Start ``caudal bill --run ID`` in its own process session; output to a log file
    under ``VAR_DIR/logs``."""
    logs = Path(settings.VAR_DIR) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = (logs / f"billing-run-{run.pk}.log").open("ab")
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", settings.SETTINGS_MODULE)
    subprocess.Popen(  # a fixed argument list, no shell
        [
            sys.executable,
            "-m",
            "caudal.cli",
            "bill",
            "--run",
            str(run.pk),
            "--no-progress",
            "--actor",
            actor,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    log.close()


#: How a run is started in the background (tests replace it).
launch: Callable[[Run, str], None] = _spawn


def _partial(request: HttpRequest) -> bool:
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def _default_period() -> str:
    from django.utils import timezone

    return Period.containing(timezone.localdate()).previous().code


@require_GET
@require_perms(VIEW)
def run_list(request: HttpRequest) -> HttpResponse:
    before = request.GET.get("antes")
    before_id = int(before) if before and before.isdigit() else None
    rows = queries.runs(RUNS_PAGE + 1, before=before_id)
    more = len(rows) > RUNS_PAGE
    rows = rows[:RUNS_PAGE]
    return render(
        request,
        "web/billing/run_list.html",
        {
            "runs": rows,
            "next_before": rows[-1].pk if more and rows else None,
            "cycles": list(Cycle.objects.order_by("code").values_list("code", "name")),
            "period": _default_period(),
            "can_run": request.user.has_perm(RUN),
            "currency": get_utility(request).currency,
            "nav": "billing",
        },
    )


@require_POST
@require_perms(RUN)
def run_start(request: HttpRequest) -> HttpResponse:
    period = request.POST.get("periodo", "").strip()
    cycle = request.POST.get("ciclo", "").strip() or None
    simulate = request.POST.get("modo", "simular") != "facturar"
    notices = [n.strip() for n in request.POST.get("avisos", "").splitlines() if n.strip()]
    hold = request.POST.get("retener", "1") != "0"
    try:
        run = runs.start(
            period,
            cycle=cycle,
            simulate=simulate,
            hold_unresolved=hold,
            notices=notices,
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("billing-runs")
    if run.status == RunStatus.RUNNING and (run.counts or {}).get("phase") not in (None, "queued"):
        messages.info(
            request,
            _("Se reanuda la corrida %(id)s, que tiene los mismos parámetros.") % {"id": run.pk},
        )
    launch(run, request.user.get_username())
    return redirect("billing-run", pk=run.pk)


@require_POST
@require_perms(RUN)
def run_resume(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(Run, pk=pk, kind=queries.RUN_KIND)
    if run.status not in (RunStatus.RUNNING, RunStatus.FAILED):
        messages.error(request, _("La corrida %(id)s ya terminó.") % {"id": run.pk})
    else:
        launch(run, request.user.get_username())
        messages.info(request, _("Corrida %(id)s relanzada.") % {"id": run.pk})
    return redirect("billing-run", pk=run.pk)


def _problem_page(request: HttpRequest, run: Run) -> tuple[list[dict[str, Any]], str | None, str]:
    reason = request.GET.get("motivo", "")
    after = None
    key = request.GET.get("desde", "")
    if ":" in key:
        route, _sep, pos = key.rpartition(":")
        if pos.isdigit():
            after = (route, int(pos))
    rows, nxt = queries.run_problems(run, reason=reason or None, after=after, limit=PROBLEMS_PAGE)
    return rows, (f"{nxt[0]}:{nxt[1]}" if nxt else None), reason


@require_GET
@require_perms(VIEW)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = Run.objects.filter(pk=pk, kind=queries.RUN_KIND).select_related("actor").first()
    if run is None:
        raise Http404
    counts = run.counts or {}
    finished = run.status in (RunStatus.DONE, RunStatus.DRY_RUN, RunStatus.FAILED)
    chunks_total = int(counts.get("chunks") or 0)
    chunks_done = int(counts.get("chunks_done") or 0)
    percent = round(100 * chunks_done / chunks_total) if chunks_total else (100 if finished else 0)
    labels = rules.reason_labels()
    context: dict[str, Any] = {
        "run": run,
        "c": counts,
        "params": run.parameters or {},
        "finished": finished,
        "percent": percent,
        "poll": POLL_SECONDS,
        "currency": get_utility(request).currency,
        "can_run": request.user.has_perm(RUN),
        "labels": labels,
        "nav": "billing",
    }
    if _partial(request) and request.GET.get("parte") == "avance":
        response = render(request, "web/billing/run_progress.html", context)
        patch_vary_headers(response, ["HX-Request"])
        return response
    problems, next_key, reason = _problem_page(request, run)
    context.update(
        {
            "problems": problems,
            "next_key": next_key,
            "reason": reason,
            "reasons": sorted(
                (
                    (code, labels.get(code, code), n)
                    for code, n in (counts.get("reasons") or {}).items()
                ),
                key=lambda r: -r[2],
            ),
            "chunk_states": queries.run_chunks(run),
            "comparison": counts.get("comparison"),
        }
    )
    response = render(request, "web/billing/run_detail.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response
