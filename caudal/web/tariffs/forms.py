"""Forms of the tariff pages: the simulator and the file upload."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from caudal.tariffs.schema import CATEGORY_NAMES, RESIDENTIAL, Tariff

MAX_FILE_BYTES = 1_000_000


class SimulatorForm(forms.Form):
    """What customer-service staff type to see how a bill would be priced."""

    categoria = forms.ChoiceField(label=_("Categoría"))
    estrato = forms.TypedChoiceField(
        label=_("Estrato"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "—")] + [(str(i), str(i)) for i in range(1, 7)],
    )
    unidades = forms.IntegerField(
        label=_("Unidades de uso"), min_value=1, max_value=9999, initial=1
    )
    consumo = forms.IntegerField(
        label=_("Consumo (m³)"), min_value=0, max_value=10_000_000, initial=20
    )
    meses = forms.TypedChoiceField(
        label=_("Meses del periodo"), coerce=int, choices=[("1", "1"), ("2", "2")]
    )
    municipio = forms.ChoiceField(label=_("Municipio"), required=False)
    fecha = forms.DateField(
        label=_("Fecha de los factores"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Día con el que se eligen los subsidios y contribuciones del municipio."),
    )
    agua = forms.BooleanField(label=_("Agua potable"), required=False, initial=True)
    alcantarillado = forms.BooleanField(label=_("Alcantarillado"), required=False, initial=True)

    def __init__(self, *args: Any, tariff: Tariff, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tariff = tariff
        category = self.fields["categoria"]
        assert isinstance(category, forms.ChoiceField)
        category.choices = [(key, CATEGORY_NAMES[key]) for key in tariff.categories]
        self.fields["categoria"].initial = "domestic" if "domestic" in tariff.categories else None
        self.fields["meses"].initial = "2" if tariff.periodicity == "bimonthly" else "1"
        colombia = tariff.country == "CO"
        if colombia:
            municipality = self.fields["municipio"]
            assert isinstance(municipality, forms.ChoiceField)
            municipality.choices = [
                (m.code, f"{m.code} · {m.name}" if m.name != m.code else m.code)
                for m in tariff.municipalities.values()
            ]
            self.fields["municipio"].required = True
            inside = tariff.valid_from <= today and (
                tariff.valid_to is None or today <= tariff.valid_to
            )
            self.fields["fecha"].initial = today if inside else tariff.valid_from
            self.fields["estrato"].initial = "2"
        else:
            for name in ("estrato", "municipio", "fecha"):
                del self.fields[name]
        for field in self.fields.values():
            if not isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "input")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        residential = self.tariff.country == "CO" and data.get("categoria") in RESIDENTIAL
        if residential and not data.get("estrato"):
            self.add_error("estrato", _("Indique el estrato (1 a 6) de un suministro residencial."))
        return data


class ImportForm(forms.Form):
    archivo = forms.FileField(
        label=_("Archivo de tarifa (YAML)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".yaml,.yml,text/yaml"}),
    )
    solo_validar = forms.BooleanField(
        label=_("Solo validar (no guardar)"), required=False, initial=False
    )

    def clean_archivo(self) -> str:
        upload = self.cleaned_data["archivo"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                _("El archivo pesa %(size)s bytes; el máximo es %(max)s.")
                % {"size": upload.size, "max": MAX_FILE_BYTES}
            )
        raw = upload.read()
        try:
            return str(raw.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(
                _("El archivo no es texto UTF-8 (byte %(pos)s).") % {"pos": exc.start}
            ) from exc
