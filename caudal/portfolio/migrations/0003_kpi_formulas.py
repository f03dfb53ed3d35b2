"""Default indicator formulas (version 1, valid from 2000-01-01).

Each is arithmetic over the named inputs of :mod:`caudal.portfolio.kpis` (docs/indicators.md
lists them). ``confirmed`` is True only where the reference or the EAAB procedure defines
the indicator; the rest are the usual definitions, marked UNCONFIRMED in
reference/standards.md §5, shown on the page as provisional: an administrator replaces them
with a new version (the official SUNASS / OTASS or CRA definition) when the utility has it.
"""

import datetime

from django.db import migrations

START = datetime.date(2000, 1, 1)

STANDARDS = "reference/standards.md §5 (SUNASS / OTASS)"
RCD_010_2006 = (
    "RCD 010-2006-SUNASS-CD, Sistema de Indicadores de Gestión: "
    "http://www.datosperu.org/directorio-de-normas-legales-del-peru-2006-marzo-11-03-2006-pagina-63.php"
)
EAAB = (
    "Procedimiento EAAB de análisis, control y seguimiento de la cartera (seed 004): definiciones"
)

# (code, name, description, expression, unit, direction, confirmed, source)
FORMULAS = [
    (
        "morosidad_meses",
        "Morosidad en meses de facturación",
        "Cuentas por cobrar (débitos abiertos) ÷ facturación mensual promedio de los últimos "
        "12 meses completos. Cuántos meses de facturación se deben.",
        "receivables / avg_billing_12m",
        "months",
        "lower",
        False,
        STANDARDS + ": fórmula usual, NO CONFIRMADA",
    ),
    (
        "eficiencia_recaudo",
        "Eficiencia de recaudo",
        "Recaudado en el mes ÷ facturado en el mes (%).",
        "collected_month / billed_month * 100",
        "percent",
        "higher",
        False,
        STANDARDS + ": eficiencia de cobranza, fórmula usual, NO CONFIRMADA",
    ),
    (
        "eficiencia_corriente",
        "Eficiencia de recaudo corriente",
        "Recaudado en el mes sobre partidas no vencidas al pagarse ÷ facturado en el mes (%).",
        "collected_current / billed_month * 100",
        "percent",
        "higher",
        False,
        STANDARDS + ": eficiencia de cobranza separada en corriente y morosa (issue 5 §4)",
    ),
    (
        "eficiencia_morosa",
        "Eficiencia de recaudo de cartera morosa",
        "Recaudado en el mes sobre partidas vencidas ÷ cartera vencida al inicio del mes "
        "(corte de cierre del mes anterior) (%).",
        "collected_arrears / overdue_start * 100",
        "percent",
        "higher",
        False,
        STANDARDS + ": eficiencia de cobranza separada en corriente y morosa (issue 5 §4)",
    ),
    (
        "cartera_morosa_pct",
        "Cartera morosa",
        "Cartera vencida (partidas con 1 día de mora o más) ÷ cuentas por cobrar (%).",
        "overdue / receivables * 100",
        "percent",
        "lower",
        True,
        EAAB + " (testigo de cartera vencida: 1 día de mora o más)",
    ),
    (
        "ddr_pct",
        "Deudas de difícil recaudo (DDR)",
        "Deuda de las cuentas con más de 360 días de mora (clase DDR) ÷ cuentas por cobrar (%).",
        "ddr_value / receivables * 100",
        "percent",
        "lower",
        True,
        EAAB + " (DDR: mayores a 360 días de mora)",
    ),
    (
        "conexiones_activas_pct",
        "Conexiones activas de agua potable",
        "Conexiones de agua activas ÷ conexiones de agua (activas, cortadas y clandestinas "
        "registradas; sin factibles ni levantadas), a la fecha de corte (%).",
        "water_active / water_connections * 100",
        "percent",
        "higher",
        True,
        RCD_010_2006,
    ),
    (
        "micromedicion_pct",
        "Micromedición",
        "Conexiones de agua con medidor instalado y operativo a la fecha ÷ conexiones de agua (%).",
        "metered_connections / water_connections * 100",
        "percent",
        "higher",
        False,
        STANDARDS + ": fórmula usual, NO CONFIRMADA",
    ),
]

# Share of value per collection stage: the stage codes of the default policies (0002).
STAGES = [
    ("current", "cartera corriente", "higher"),
    ("prejudicial", "cobranza prejudicial (PE)", "lower"),
    ("judicial", "cobranza judicial (PE)", "lower"),
    ("prejuridica", "cobro prejurídico (CO)", "lower"),
    ("persuasiva", "cobro persuasivo (CO)", "lower"),
    ("coactiva", "cobro coactivo (CO)", "lower"),
]
for stage, label, direction in STAGES:
    FORMULAS.append(
        (
            f"participacion_{stage}",
            f"Participación {label}",
            f"Débitos abiertos de las cuentas en la etapa «{stage}» ÷ cuentas por cobrar (%).",
            f"stage_value_{stage} / receivables * 100",
            "percent",
            direction,
            True,
            EAAB + " (etapa de la gestión de cobro)",
        )
    )


def create(apps, schema_editor):
    KpiFormula = apps.get_model("portfolio", "KpiFormula")
    for code, name, description, expression, unit, direction, confirmed, source in FORMULAS:
        KpiFormula.objects.get_or_create(
            code=code,
            version=1,
            defaults={
                "name": name,
                "description": description,
                "expression": expression,
                "unit": unit,
                "direction": direction,
                "confirmed": confirmed,
                "source": source[:250],
                "valid_from": START,
            },
        )


def remove(apps, schema_editor):
    KpiFormula = apps.get_model("portfolio", "KpiFormula")
    KpiFormula.objects.filter(code__in=[f[0] for f in FORMULAS], version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0002_default_policies")]

    operations = [migrations.RunPython(create, remove)]
