"""Indicator pages under ``/cartera/``: the indicators of a snapshot, their targets, new
formula versions, and the stage and aging policies.

Permissions:

- ``portfolio.view_cartera``: the indicators page (values, targets, traffic lights,
  previous month, inputs), the targets page and the policies page (read);
- ``portfolio.take_snapshots``: compute the indicators of a snapshot (POST);
- ``portfolio.manage_policies``: set targets, new formula versions (page and POST), new
  stage and aging policy versions (POST). Every write is audited by its action in
  :mod:`caudal.portfolio.kpis`.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from caudal.cadastre.models import Segment
from caudal.kernel.money import to_major
from caudal.portfolio import kpis, rules
from caudal.portfolio.models import (
    AgingPolicy,
    KpiDirection,
    KpiFormula,
    KpiTarget,
    KpiUnit,
    Snapshot,
    SnapshotStatus,
    StagePolicy,
)

from ..context_processors import get_utility
from ..permissions import require_perms

VIEW = "portfolio.view_cartera"
COMPUTE = "portfolio.take_snapshots"
MANAGE = "portfolio.manage_policies"

LIGHT_LABELS = {
    "green": ("ok", gettext_lazy("Cumple la meta")),
    "amber": ("warn", gettext_lazy("Cerca de la meta")),
    "red": ("danger", gettext_lazy("No cumple la meta")),
    "none": ("plain", gettext_lazy("Sin meta")),
}
# Inputs that are counts (not money): every other input is an amount in minor units.
COUNT_INPUTS = ("accounts", "overdue_accounts", "ddr_accounts")
COUNT_PREFIXES = ("water_", "metered_", "read_metered_", kpis.STAGE_ACCOUNTS)


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def _base(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    user = request.user
    return {
        "currency": get_utility(request).currency,
        "nav": "cartera",
        "can_compute": user.has_perm(COMPUTE),
        "can_manage": user.has_perm(MANAGE),
        **extra,
    }


def _is_count(name: str) -> bool:
    return name in COUNT_INPUTS or name.startswith(COUNT_PREFIXES)


def _inputs_table(row: kpis.KpiRow, labels: dict[str, str]) -> list[dict[str, Any]]:
    """The inputs of an indicator for display: counts as they are, amounts (minor units;
    an average may carry decimals) as money, missing ones marked."""
    out = []
    for name, value in row.inputs.items():
        kind = "missing" if value is None else "count" if _is_count(name) else "money"
        shown: Any = value
        if kind == "money":
            shown = int(Decimal(str(value)).to_integral_value(ROUND_HALF_UP))
        out.append(
            {
                "name": name,
                "label": labels.get(name, ""),
                "kind": kind,
                "value": shown,
                "missing": row.missing.get(name, ""),
            }
        )
    return out


def _value_text(
    value: Decimal | None, unit: str, currency: str = "PEN", *, delta: bool = False
) -> str:
    """``94.00 %`` (``94,00 %`` where the currency writes a decimal comma); a change of a
    percentage is in percentage points."""
    if value is None:
        return ""
    text = f"{value:+,.2f}" if delta else f"{value:,.2f}"
    if currency == "COP":  # Colombian convention, as format_money: 1.234,50
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    if unit == KpiUnit.PERCENT:
        return f"{text} p. p." if delta else f"{text} %"
    return text


# --- indicators of a snapshot ------------------------------------------------------------


@require_http_methods(["GET"])
@require_perms(VIEW)
def kpi_list(request: HttpRequest) -> HttpResponse:
    done = list(
        Snapshot.objects.filter(status=SnapshotStatus.DONE)
        .order_by("-date")
        .values_list("date", flat=True)[:120]
    )
    on = _date(request.GET.get("fecha")) or (done[0] if done else None)
    context = _base(request, snapshots=done, on=on, rows=[], error="")
    currency = context["currency"]
    if on is not None:
        try:
            rows = kpis.kpi_report(on)
        except kpis.KpiError as exc:
            context["error"] = str(exc)
            rows = []
        labels = kpis.known_inputs()
        context["rows"] = [
            {
                "r": r,
                "value_text": _value_text(r.value, r.unit, currency),
                "previous_text": _value_text(r.previous, r.unit, currency),
                "target_text": _value_text(r.target, r.unit, currency),
                "tolerance_text": _value_text(r.tolerance, r.unit, currency),
                "delta_text": _value_text(r.value - r.previous, r.unit, currency, delta=True)
                if r.value is not None and r.previous is not None
                else "",
                "light_tone": LIGHT_LABELS[r.light][0],
                "light_label": str(LIGHT_LABELS[r.light][1]),
                "inputs": _inputs_table(r, labels),
            }
            for r in rows
        ]
        context["not_computed"] = sum(1 for r in rows if not r.computed)
        context["provisional"] = sum(1 for r in rows if not r.confirmed)
        context["period"] = kpis.period_of(on)
    return render(request, "portfolio/kpi_list.html", context)


@require_POST
@require_perms(VIEW, COMPUTE)
def kpi_compute(request: HttpRequest) -> HttpResponse:
    on = _date(request.POST.get("fecha"))
    if on is None:
        messages.error(request, _("Indique la fecha del corte (AAAA-MM-DD)."))
        return redirect("kpis")
    try:
        values = kpis.compute_kpis(on, actor=request.user)
    except kpis.KpiError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Indicadores calculados: %(n)s valores del corte del %(d)s.")
            % {"n": len(values), "d": on.strftime("%d/%m/%Y")},
        )
    return redirect(f"{reverse('kpis')}?fecha={on.isoformat()}")


# --- targets -----------------------------------------------------------------------------


def _period(value: str | None) -> str:
    text = (value or "").strip()
    if kpis.PERIOD_RE.match(text):
        return text
    return kpis.period_of(timezone.localdate())


def _period_end(period: str) -> date:
    year, month = int(period[:4]), int(period[5:7])
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)


@require_http_methods(["GET", "POST"])
@require_perms(VIEW)
def kpi_targets(request: HttpRequest) -> HttpResponse:
    period = _period(request.POST.get("periodo") or request.GET.get("periodo"))
    formulas = kpis.formulas_in_force(_period_end(period))
    targets = {t.code: t for t in KpiTarget.objects.filter(period=period)}
    errors: dict[str, dict[str, str]] = {}
    posted: dict[str, dict[str, str]] = {}
    if request.method == "POST":
        if not request.user.has_perm(MANAGE):
            raise PermissionDenied
        changed = 0
        with transaction.atomic():
            for f in formulas:
                target = request.POST.get(f"target-{f.code}", "").strip()
                tolerance = request.POST.get(f"tolerance-{f.code}", "").strip()
                posted[f.code] = {"target": target, "tolerance": tolerance}
                current = targets.get(f.code)
                if not target:
                    if current is not None:
                        kpis.do_delete_target(f.code, period, actor=request.user)
                        changed += 1
                    continue
                if (
                    current is not None
                    and _same(current.target, target)
                    and _same(current.tolerance, tolerance or "0")
                ):
                    continue
                try:
                    kpis.do_set_target(f.code, period, target, tolerance, actor=request.user)
                    changed += 1
                except kpis.KpiFormError as exc:
                    errors[f.code] = exc.errors
            if errors:
                transaction.set_rollback(True)
        if not errors:
            messages.success(
                request,
                _("Metas de %(p)s guardadas (%(n)s cambios).") % {"p": period, "n": changed},
            )
            return redirect(f"{reverse('kpi-targets')}?periodo={period}")
    rows = []
    for f in formulas:
        current = targets.get(f.code)
        values = posted.get(f.code) or {
            "target": _plain(current.target) if current else "",
            "tolerance": _plain(current.tolerance) if current else "",
        }
        rows.append(
            {
                "f": f,
                "target": values["target"],
                "tolerance": values["tolerance"],
                "errors": errors.get(f.code, {}),
                "set_by": current.set_by if current else None,
                "set_at": current.set_at if current else None,
            }
        )
    return render(
        request,
        "portfolio/kpi_targets.html",
        _base(request, period=period, rows=rows, error_count=len(errors)),
        status=400 if errors else 200,
    )


def _same(stored: Decimal, text: str) -> bool:
    try:
        return stored == Decimal(text.replace(",", "."))
    except ArithmeticError:
        return False


def _plain(value: Decimal) -> str:
    """``92.5000`` → ``"92.5"``."""
    text = f"{value.normalize():f}"
    return text


# --- new formula version -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_perms(VIEW, MANAGE)
def kpi_formula_new(request: HttpRequest, code: str) -> HttpResponse:
    if not kpis.CODE_RE.match(code):
        raise Http404
    versions = list(KpiFormula.objects.filter(code=code).order_by("-version"))
    latest = versions[0] if versions else None
    values = kpis.formula_form_values(latest)
    today = timezone.localdate()
    values["valid_from"] = (today.replace(day=1) + timedelta(days=32)).replace(day=1).isoformat()
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        values["confirmed"] = bool(request.POST.get("confirmed"))
        try:
            formula = kpis.do_new_formula_version(code, values, actor=request.user)
        except kpis.KpiFormError as exc:
            errors = exc.errors
        else:
            messages.success(
                request,
                _("Versión %(v)s de «%(n)s» creada, vigente desde el %(d)s.")
                % {
                    "v": formula.version,
                    "n": formula.name,
                    "d": formula.valid_from.strftime("%d/%m/%Y"),
                },
            )
            return redirect("kpi-formula-new", code=code)
    return render(
        request,
        "portfolio/kpi_formula_form.html",
        _base(
            request,
            code=code,
            versions=versions,
            latest=latest,
            values=values,
            errors=errors,
            units=KpiUnit.choices,
            directions=KpiDirection.choices,
            inputs=sorted(kpis.known_inputs().items()),
        ),
        status=400 if errors else 200,
    )


# --- policies ----------------------------------------------------------------------------

POLICY_RULE_ROWS = 8


@require_http_methods(["GET", "POST"])
@require_perms(VIEW)
def cartera_policies(request: HttpRequest) -> HttpResponse:
    utility = get_utility(request)
    currency = utility.currency
    today = timezone.localdate()
    stage_in_force = kpis.stage_policy_in_force(today, utility.country)
    aging_in_force = kpis.aging_policy_in_force(today)
    stage_errors: dict[str, str] = {}
    aging_errors: dict[str, str] = {}
    first_next = (today.replace(day=1) + timedelta(days=32)).replace(day=1).isoformat()
    latest_stage = StagePolicy.objects.filter(country=utility.country).order_by("-version").first()
    stage_values: dict[str, Any] = {
        "name": latest_stage.name if latest_stage else "",
        "valid_from": first_next,
        "notes": "",
    }
    rule_rows = kpis.stage_rule_rows(latest_stage, currency, blank=2)
    latest_aging = AgingPolicy.objects.order_by("-version").first()
    aging_values: dict[str, Any] = {
        "bounds": ", ".join(str(b) for b in latest_aging.bounds) if latest_aging else "",
        "light_from_days": latest_aging.light_from_days if latest_aging else 31,
        "heavy_from_days": latest_aging.heavy_from_days if latest_aging else 181,
        "ddr_from_days": latest_aging.ddr_from_days if latest_aging else 361,
        "valid_from": first_next,
    }
    if request.method == "POST":
        if not request.user.has_perm(MANAGE):
            raise PermissionDenied
        which = request.POST.get("form")
        if which == "stage":
            stage_values = {k: request.POST.get(k, "") for k in stage_values}
            count = min(int(request.POST.get("rows", "0") or 0), 50)
            rule_rows = [
                {f: request.POST.get(f"rule-{n}-{f}", "") for f in kpis.RULE_FIELDS}
                for n in range(1, count + 1)
            ]
            try:
                policy = kpis.do_new_stage_policy(stage_values, rule_rows, actor=request.user)
            except kpis.KpiFormError as exc:
                stage_errors = exc.errors
            else:
                messages.success(
                    request,
                    _("Política de etapas v%(v)s creada, vigente desde el %(d)s.")
                    % {"v": policy.version, "d": policy.valid_from.strftime("%d/%m/%Y")},
                )
                return redirect("cartera-policies")
        elif which == "aging":
            aging_values = {k: request.POST.get(k, "") for k in aging_values}
            try:
                aging = kpis.do_new_aging_policy(aging_values, actor=request.user)
            except kpis.KpiFormError as exc:
                aging_errors = exc.errors
            else:
                messages.success(
                    request,
                    _("Política de edades v%(v)s creada, vigente desde el %(d)s.")
                    % {"v": aging.version, "d": aging.valid_from.strftime("%d/%m/%Y")},
                )
                return redirect("cartera-policies")
        else:
            return HttpResponse(status=400)
    stage_versions = list(
        StagePolicy.objects.filter(country=utility.country)
        .select_related("created_by")
        .prefetch_related("rules")
        .order_by("-version")
    )
    aging_versions = list(AgingPolicy.objects.select_related("created_by").order_by("-version"))
    in_force_rules = [
        {
            "r": r,
            "min_amount": to_major(r.min_amount, currency) if r.min_amount else None,
        }
        for r in (stage_in_force.rules.order_by("order") if stage_in_force else [])
    ]
    bucket_codes: list[str] = []
    if aging_in_force is not None:
        try:
            bucket_codes = rules.bucket_codes(aging_in_force.bounds)
        except ValueError:
            bucket_codes = []
    numbered_rows = [
        {
            "n": n,
            "values": row,
            "errors": {
                f: stage_errors.get(f"rule-{n}-{f}", "")
                for f in kpis.RULE_FIELDS
                if f"rule-{n}-{f}" in stage_errors
            },
        }
        for n, row in enumerate(rule_rows, start=1)
    ]
    return render(
        request,
        "portfolio/kpi_policies.html",
        _base(
            request,
            today=today,
            country=utility.get_country_display(),
            stage_in_force=stage_in_force,
            in_force_rules=in_force_rules,
            aging_in_force=aging_in_force,
            bucket_codes=bucket_codes,
            stage_versions=stage_versions,
            aging_versions=aging_versions,
            stage_values=stage_values,
            rule_rows=numbered_rows,
            stage_errors=stage_errors,
            stage_general=[v for k, v in stage_errors.items() if k in ("rules", "country")],
            stage_row_errors=[v for k, v in stage_errors.items() if k.startswith("rule-")],
            aging_values=aging_values,
            aging_errors=aging_errors,
            segments=Segment.choices,
            rule_labels=kpis.RULE_LABELS,
        ),
        status=400 if stage_errors or aging_errors else 200,
    )
