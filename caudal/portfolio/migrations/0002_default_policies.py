"""Default collection-stage policies (Peru and Colombia) and age buckets.

The day thresholds and the responsible units belong to each utility's reglamento interno de
cartera: these are starting points that an administrator replaces with a new version
(docs/cartera.md). Peru: corriente, prejudicial, judicial. Colombia (public utilities with
jurisdicción coactiva, such as EAAB): corriente, prejurídica, persuasiva, coactiva.
"""

import datetime

from django.db import migrations

START = datetime.date(2000, 1, 1)

# (order, stage, name, min_days, max_days, min_amount, responsible); the last rule catches all.
PE_RULES = [
    (1, "judicial", "Cobranza judicial", 361, None, 50000, "Asesoría legal – cobranza judicial"),
    (2, "prejudicial", "Cobranza prejudicial", 91, None, 0, "Área de cobranza – gestión prejudicial"),
    (3, "current", "Cobranza corriente", 0, None, 0, "Oficina comercial de la zona"),
]
CO_RULES = [
    (1, "coactiva", "Cobro coactivo", 361, None, 0, "Dirección de Jurisdicción Coactiva"),
    (2, "persuasiva", "Cobro persuasivo", 91, 360, 0, "Cobro persuasivo – DJC"),
    (3, "prejuridica", "Cobro prejurídico", 31, 90, 0, "Cobro prejurídico – DJC"),
    (4, "current", "Cartera corriente", 0, None, 0, "Dirección comercial de la zona"),
]


def create(apps, schema_editor):
    StagePolicy = apps.get_model("portfolio", "StagePolicy")
    StageRule = apps.get_model("portfolio", "StageRule")
    AgingPolicy = apps.get_model("portfolio", "AgingPolicy")
    for country, name, rules in (
        ("PE", "Etapas de cobranza (EPS, por defecto)", PE_RULES),
        ("CO", "Etapas de cobro (reglamento interno de cartera, por defecto)", CO_RULES),
    ):
        policy = StagePolicy.objects.create(
            country=country,
            version=1,
            valid_from=START,
            name=name,
            notes="Umbrales por defecto: reemplácelos por los del reglamento de la empresa.",
        )
        for order, stage, label, low, high, amount, responsible in rules:
            StageRule.objects.create(
                policy=policy,
                order=order,
                stage=stage,
                name=label,
                min_days=low,
                max_days=high,
                min_amount=amount,
                responsible=responsible,
            )
    AgingPolicy.objects.create(
        version=1,
        valid_from=START,
        bounds=[0, 30, 60, 90, 180, 360],
        light_from_days=31,
        heavy_from_days=181,
        ddr_from_days=361,
    )


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
