"""Tariff pages: the versions, one version with its tables and a bill simulator, the import."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from caudal.kernel.errors import DomainError
from caudal.tariffs import queries, rules
from caudal.tariffs.actions import do_import_tariff, is_imported
from caudal.tariffs.models import TariffVersion
from caudal.tariffs.schema import (
    CATEGORY_NAMES,
    RANGE_ALL,
    RANGE_NAMES,
    RANGES,
    Tariff,
    TariffFileError,
    block_label,
    decimal_text,
)

from ..context_processors import get_utility
from ..permissions import require_perms
from .forms import ImportForm, SimulatorForm

VIEW = "tariffs.view_tariffversion"
MANAGE = "tariffs.manage_tariffs"


@require_GET
@require_perms(VIEW)
def tariff_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    country = get_utility(request).country
    try:
        current = queries.tariff_on(today, country=country)
    except DomainError:
        current = None
    return render(
        request,
        "web/tariffs/tariff_list.html",
        {
            "versions": list(queries.versions()),
            "current": current,
            "today": today,
            "country": country,
            "can_manage": request.user.has_perm(MANAGE),
            "nav": "tariffs",
        },
    )


@dataclass(frozen=True)
class RangeRow:
    label: str
    water: str
    sewer: str


def _category_rows(tariff: Tariff) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []

    def rate(value: Decimal) -> str:
        return rules.format_rate(value, tariff.currency, symbol=False)

    for key, cat in tariff.categories.items():
        ranges = [
            RangeRow(RANGE_NAMES[r] or _("todo el consumo"), rate(v.water), rate(v.sewer))
            for r in (*RANGES, RANGE_ALL)
            if (v := cat.ranges.get(r)) is not None
        ]
        rows.append(
            {
                "key": key,
                "name": CATEGORY_NAMES[key],
                "cat": cat,
                "fixed": [
                    (rules.FIXED_NAMES[tariff.country][f.service], rate(f.amount))
                    for f in cat.fixed
                ],
                "blocks": [
                    (
                        b.label
                        if b.label == block_label(b.lo, b.hi)
                        else f"{b.label} ({block_label(b.lo, b.hi)})",
                        rate(b.water),
                        rate(b.sewer),
                    )
                    for b in cat.blocks
                ],
                "ranges": ranges,
            }
        )
    return rows


def _bands(tariff: Tariff) -> list[dict[str, object]]:
    bands = tariff.altitude_bands
    rows: list[dict[str, object]] = []
    for i, band in enumerate(bands):
        upper = bands[i + 1].from_m - 1 if i + 1 < len(bands) else None
        rows.append(
            {
                "altitude": f"{band.from_m}–{upper} m"
                if upper is not None
                else f"{band.from_m} m a más",
                "basic": band.basic_m3,
                "sumptuary": band.sumptuary_from_m3,
            }
        )
    return rows


def _factor_rows(tariff: Tariff) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for muni in tariff.municipalities.values():
        for fs in muni.factors:
            rows.append(
                {
                    "code": muni.code,
                    "name": muni.name,
                    "altitude": muni.altitude_m,
                    "valid_from": fs.valid_from,
                    "valid_to": fs.valid_to,
                    "source": fs.source,
                    "subsidies": [(s, decimal_text(fs.subsidies[s])) for s in sorted(fs.subsidies)],
                    "contributions": [
                        (_contributor(k), decimal_text(v)) for k, v in fs.contributions.items()
                    ],
                }
            )
    return rows


def _tax_base(tariff: Tariff) -> str:
    if tariff.tax is None:
        return ""
    names = {
        "fixed": _("cargo fijo"),
        "water": _("acueducto") if tariff.country == "CO" else _("agua potable"),
        "sewer": _("alcantarillado"),
    }
    return ", ".join(names[c] for c in tariff.tax.applies_to)


def _rounding(tariff: Tariff) -> str:
    unit = 10**tariff.exponent
    if tariff.rounding == 1:
        return _("a la unidad menor (céntimo o centavo)")
    if tariff.rounding == unit:
        return _("a la unidad de la moneda (%(currency)s 1)") % {"currency": tariff.currency}
    return _("a múltiplos de %(n)s unidades menores") % {"n": tariff.rounding}


def _contributor(key: str) -> str:
    return _("estrato %(n)s") % {"n": key} if key.isdigit() else CATEGORY_NAMES.get(key, key)


def _simulate(form: SimulatorForm, tariff: Tariff) -> tuple[list[rules.Charge], str | None]:
    data = form.cleaned_data
    account = rules.AccountInput(
        category=data["categoria"],
        consumption_m3=data["consumo"],
        units=data["unidades"],
        stratum=data.get("estrato"),
        municipality_code=data.get("municipio") or "",
        water=data["agua"],
        sewer=data["alcantarillado"],
    )
    on: date | None = data.get("fecha")
    try:
        return rules.price(account, tariff, months=data["meses"], on=on), None
    except rules.PricingError as exc:
        return [], str(exc)


@require_GET
@require_perms(VIEW)
def tariff_detail(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(TariffVersion.objects.select_related("imported_by"), pk=pk)
    tariff = queries.load(version)
    submitted = "simular" in request.GET
    form = SimulatorForm(
        request.GET if submitted else None, tariff=tariff, today=timezone.localdate()
    )
    charges: list[rules.Charge] = []
    refusal = None
    if submitted and form.is_valid():
        charges, refusal = _simulate(form, tariff)
    context = {
        "version": version,
        "tariff": tariff,
        "form": form,
        "submitted": submitted,
        "charges": charges,
        "refusal": refusal,
        "total": sum(c.amount for c in charges),
        "currency": tariff.currency,
        "nav": "tariffs",
    }
    if request.headers.get("HX-Request") == "true" and submitted:
        response = render(request, "web/tariffs/_simulation.html", context)
    else:
        context.update(
            {
                "categories": _category_rows(tariff),
                "bands": _bands(tariff),
                "factors": _factor_rows(tariff),
                "tax_rate": decimal_text(tariff.tax.rate_pct) if tariff.tax else None,
                "tax_base": _tax_base(tariff),
                "rounding": _rounding(tariff),
                "other_versions": TariffVersion.objects.filter(code=version.code)
                .exclude(pk=version.pk)
                .order_by("-version"),
            }
        )
        response = render(request, "web/tariffs/tariff_detail.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_http_methods(["GET", "POST"])
@require_perms(VIEW, MANAGE)
def tariff_import(request: HttpRequest) -> HttpResponse:
    errors: list[tuple[str, str]] = []
    checked: TariffVersion | None = None
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            text = form.cleaned_data["archivo"]
            dry_run = form.cleaned_data["solo_validar"]
            upload = request.FILES.get("archivo")
            name = getattr(upload, "name", None) or "tarifa.yaml"
            known = is_imported(text)
            try:
                version = do_import_tariff(
                    text, source_name=name, actor=request.user, dry_run=dry_run
                )
            except TariffFileError as exc:
                errors = [(e.path, e.reason) for e in exc.errors]
            else:
                if dry_run and not known:
                    checked = version
                else:
                    if known:
                        messages.info(
                            request,
                            _("Sin cambios: ese mismo archivo ya es %(code)s versión %(n)s.")
                            % {"code": version.code, "n": version.version},
                        )
                    else:
                        messages.success(
                            request,
                            _("Tarifa importada: %(code)s versión %(n)s.")
                            % {"code": version.code, "n": version.version},
                        )
                    return redirect("tariff-detail", pk=version.pk)
    else:
        form = ImportForm()
    return render(
        request,
        "web/tariffs/tariff_import.html",
        {"form": form, "errors": errors, "checked": checked, "nav": "tariffs"},
    )
