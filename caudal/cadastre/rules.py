"""Pure cadastre rules: identity documents, codes, categories, statuses, coordinates, dates.

No database here (an import-linter contract forbids ``django.db`` and the models). Every
validator takes text as it comes from a file or a form and returns a :class:`Checked`:
the normalized value, or the reason (in Spanish, through gettext) why it is refused.

The bulk import (``caudal.cadastre.imports``) applies the same rules column-wise with
Polars. It reuses the constants below (patterns, aliases, ranges) so that both paths
agree; ``tests/test_rules.py`` checks that they do on generated input.

Identity documents by country profile:

===  =====  =======================================================================
PE   DNI    8 digits. A 9th check character (``12345678-9``, stdnum ``pe.cui``) is
            verified and dropped: the stored number is the 8 digits.
PE   RUC    11 digits, prefix 10/15/17/20, SUNAT check digit (stdnum ``pe.ruc``).
PE   CE     carné de extranjería: 9 to 12 letters or digits.
CO   CC     cédula de ciudadanía: 3 to 10 digits, no leading zero.
CO   NIT    DIAN check digit (stdnum ``co.nit``); stored with the check digit and no
            separators (``900.123.456-7`` → ``9001234567``).
CO   CE     cédula de extranjería: 6 to 12 letters or digits.
any  PAS    passport: 6 to 15 letters or digits.
===  =====  =======================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

from django.utils.translation import gettext as _
from stdnum.co import nit as co_nit
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.pe import cui as pe_cui
from stdnum.pe import ruc as pe_ruc

T = TypeVar("T")

PERU = "PE"
COLOMBIA = "CO"
COUNTRIES = (PERU, COLOMBIA)


@dataclass(frozen=True, slots=True)
class Checked(Generic[T]):
    """The outcome of a validator: ``value`` when valid, else ``error`` (a reason)."""

    value: T | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _ok(value: T) -> Checked[T]:
    return Checked(value=value)


def _bad(reason: str) -> Checked[T]:
    return Checked(error=reason)


# --- identity documents ------------------------------------------------------------------

DOC_TYPES: dict[str, tuple[str, ...]] = {
    PERU: ("DNI", "RUC", "CE", "PAS"),
    COLOMBIA: ("CC", "NIT", "CE", "PAS"),
}

#: Spellings of the document type accepted in files, after removing dots and spaces and
#: upper-casing (``"D.N.I."`` → ``"DNI"``, ``"c.c."`` → ``"CC"``).
DOC_TYPE_ALIASES: dict[str, str] = {
    "DNI": "DNI",
    "RUC": "RUC",
    "CE": "CE",
    "CC": "CC",
    "NIT": "NIT",
    "PAS": "PAS",
    "PASAPORTE": "PAS",
    "PASSPORT": "PAS",
    "PP": "PAS",
    "CEDULA": "CC",
    "CÉDULA": "CC",
    "CARNEDEEXTRANJERIA": "CE",
    "CEDULADEEXTRANJERIA": "CE",
}

#: Characters dropped from a document number before checking it.
DOC_SEPARATORS = r"[\s.\-/]"

#: Format of the normalized number, per (country, type). Types with a check digit are
#: also verified with python-stdnum (see :func:`validate_document`).
DOC_PATTERNS: dict[tuple[str, str], str] = {
    (PERU, "DNI"): r"^[0-9]{8}$",
    (PERU, "RUC"): r"^(10|15|17|20)[0-9]{9}$",
    (PERU, "CE"): r"^[A-Z0-9]{9,12}$",
    (PERU, "PAS"): r"^[A-Z0-9]{6,15}$",
    (COLOMBIA, "CC"): r"^[1-9][0-9]{2,9}$",
    (COLOMBIA, "NIT"): r"^[0-9]{8,16}$",
    (COLOMBIA, "CE"): r"^[A-Z0-9]{6,12}$",
    (COLOMBIA, "PAS"): r"^[A-Z0-9]{6,15}$",
}

#: Types whose last digit is a check digit computed by python-stdnum.
CHECK_DIGIT_TYPES = frozenset({"RUC", "NIT"})

#: A DNI written with its check character (``12345678-9`` or ``12345678K``).
DNI_WITH_CHECK = r"^[0-9]{8}[0-9A-K]$"


def doc_format_reason(country: str, doc_type: str) -> str:
    """Why a number of this type is malformed, in the words a clerk understands."""
    reasons = {
        "DNI": _("el DNI tiene 8 dígitos (si Excel quitó los ceros a la izquierda, repóngalos)"),
        "RUC": _("el RUC tiene 11 dígitos y empieza por 10, 15, 17 o 20"),
        "CC": _("la cédula de ciudadanía tiene de 3 a 10 dígitos y no empieza por 0"),
        "NIT": _("el NIT tiene de 8 a 16 dígitos, incluido el dígito de verificación"),
        "PAS": _("el pasaporte tiene de 6 a 15 letras o dígitos"),
    }
    if doc_type == "CE":
        if country == PERU:
            return _("el carné de extranjería tiene de 9 a 12 letras o dígitos")
        return _("la cédula de extranjería tiene de 6 a 12 letras o dígitos")
    return reasons.get(doc_type, _("número de documento no válido"))


def normalize_doc_type(text: str | None) -> str:
    """The canonical type code of a spelling (``"d.n.i."`` → ``"DNI"``), or ``""``."""
    if not text:
        return ""
    key = re.sub(r"[\s.]", "", text).upper()
    return DOC_TYPE_ALIASES.get(key, "")


def compact_doc_number(text: str) -> str:
    return re.sub(DOC_SEPARATORS, "", text).upper()


def doc_type_reason(country: str) -> str:
    return _("tipo de documento no válido en %(country)s; use %(allowed)s") % {
        "country": country,
        "allowed": ", ".join(DOC_TYPES[country]),
    }


def check_digit_reason(doc_type: str) -> str:
    return _("dígito de verificación incorrecto del %(type)s") % {"type": doc_type}


def validate_document(country: str, doc_type: str, number: str | None) -> Checked[str]:
    """Validate an identity document for the country profile; the value is the number
    as stored (separators removed, upper-case, DNI without its check character)."""
    country = country.upper()
    if country not in DOC_TYPES:
        return _bad(_("perfil de país desconocido: %(country)s") % {"country": country})
    code = normalize_doc_type(doc_type)
    if code not in DOC_TYPES[country]:
        return _bad(doc_type_reason(country))
    if not number or not number.strip():
        return _bad(_("falta el número de documento"))
    compact = compact_doc_number(number)
    if code == "DNI" and re.match(DNI_WITH_CHECK, compact):
        try:
            pe_cui.validate(compact)
        except StdnumError:
            return _bad(check_digit_reason("DNI"))
        return _ok(compact[:8])
    if not re.match(DOC_PATTERNS[(country, code)], compact):
        return _bad(doc_format_reason(country, code))
    if code in CHECK_DIGIT_TYPES:
        module = pe_ruc if code == "RUC" else co_nit
        try:
            module.validate(compact)
        except StdnumError:
            return _bad(check_digit_reason(code))
    return _ok(compact)


# --- codes and choices ---------------------------------------------------------------------

ACCOUNT_NUMBER_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z\-]{0,19}$"
#: Zone, sector, route, cycle and municipality codes (max length per model field).
CODE_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z\-_.]*$"
CODE_MAX_LENGTH: dict[str, int] = {
    "municipality": 12,
    "zone": 12,
    "sector": 12,
    "cycle": 12,
    "route": 16,
}
CADASTRAL_CODE_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z\-_./ ]{0,29}$"

#: Use category (``models.UseCategory`` value) by every accepted spelling (lower-case,
#: accents removed).
CATEGORY_ALIASES: dict[str, str] = {
    "social": "social",
    "domestic": "domestic",
    "domestico": "domestic",
    "residencial": "domestic",
    "commercial": "commercial",
    "comercial": "commercial",
    "industrial": "industrial",
    "state": "state",
    "estatal": "state",
    "oficial": "state",
}

SEGMENT_ALIASES: dict[str, str] = {
    "regular": "regular",
    "vip": "vip",
    "gran_consumidor": "vip",
    "gran consumidor": "vip",
}

#: Connection status (``models.ConnectionStatus`` value) by accepted spelling.
STATUS_ALIASES: dict[str, str] = {
    "feasible": "feasible",
    "factible": "feasible",
    "active": "active",
    "activa": "active",
    "activo": "active",
    "cut": "cut",
    "cortada": "cut",
    "cortado": "cut",
    "suspendida": "cut",
    "removed": "removed",
    "levantada": "removed",
    "retirada": "removed",
    "clandestine": "clandestine",
    "clandestina": "clandestine",
}

TRUE_WORDS = frozenset({"1", "s", "si", "sí", "y", "yes", "true", "verdadero", "x"})
FALSE_WORDS = frozenset({"0", "n", "no", "false", "falso"})

_ACCENTS = str.maketrans("áéíóúÁÉÍÓÚ", "aeiouAEIOU")


def fold(text: str) -> str:
    """Lower-case without accents: how choice spellings are compared."""
    return text.strip().translate(_ACCENTS).lower()


def _choice(text: str | None, aliases: dict[str, str], reason: str) -> Checked[str]:
    if text is None or not text.strip():
        return _bad(_("falta el valor"))
    value = aliases.get(fold(text))
    return _ok(value) if value else _bad(reason)


def category_reason() -> str:
    return _("categoría no válida; use social, domestico, comercial, industrial o estatal")


def segment_reason() -> str:
    return _("segmento no válido; use regular o vip")


def status_reason() -> str:
    return _("estado no válido; use factible, activa, cortada, levantada o clandestina")


def validate_category(text: str | None) -> Checked[str]:
    return _choice(text, CATEGORY_ALIASES, category_reason())


def validate_segment(text: str | None) -> Checked[str]:
    """An empty segment is ``regular``."""
    if text is None or not text.strip():
        return _ok("regular")
    return _choice(text, SEGMENT_ALIASES, segment_reason())


def validate_status(text: str | None) -> Checked[str]:
    return _choice(text, STATUS_ALIASES, status_reason())


def validate_bool(text: str | None) -> Checked[bool]:
    """Yes/no as people write it: 1/0, sí/no, s/n, true/false, x. Empty is no."""
    if text is None or not text.strip():
        return _ok(False)
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return _ok(True)
    if word in FALSE_WORDS:
        return _ok(False)
    return _bad(_("use 1 o 0 (también sí/no)"))


# --- numbers --------------------------------------------------------------------------------

STRATUM_MIN, STRATUM_MAX = 1, 6
#: Categories that carry a socioeconomic stratum in Colombia (residential users).
STRATUM_CATEGORIES = frozenset({"domestic", "social"})
UNITS_MIN, UNITS_MAX = 1, 9999
SEQUENCE_MIN, SEQUENCE_MAX = 1, 2_000_000_000
METER_DIGITS_MIN, METER_DIGITS_MAX = 3, 9
INT_PATTERN = r"^[0-9]{1,10}$"


def _int(text: str | None) -> int | None:
    if text is None or not re.match(INT_PATTERN, text.strip()):
        return None
    return int(text.strip())


def stratum_reason(country: str, category: str | None = None) -> str:
    if country == PERU:
        return _("el estrato solo se usa en Colombia; déjelo vacío")
    if category is not None and category not in STRATUM_CATEGORIES:
        return _("el estrato solo se usa en usuarios residenciales; déjelo vacío")
    return _("estrato de 1 a 6")


def validate_stratum(country: str, text: str | None, category: str) -> Checked[int | None]:
    """Colombia: residential accounts (domestic, social) carry stratum 1–6, the others
    none. Peru: always empty."""
    empty = text is None or not text.strip()
    if country == PERU:
        return _ok(None) if empty else _bad(stratum_reason(PERU))
    if category not in STRATUM_CATEGORIES:
        return _ok(None) if empty else _bad(stratum_reason(COLOMBIA, category))
    value = _int(text)
    if value is None or not STRATUM_MIN <= value <= STRATUM_MAX:
        return _bad(stratum_reason(COLOMBIA))
    return _ok(value)


def _int_range(text: str | None, low: int, high: int, reason: str) -> Checked[int]:
    value = _int(text)
    if value is None or not low <= value <= high:
        return _bad(reason)
    return _ok(value)


def units_reason() -> str:
    return _("unidades de uso: entero de %(low)s a %(high)s") % {
        "low": UNITS_MIN,
        "high": UNITS_MAX,
    }


def sequence_reason() -> str:
    return _("secuencia: entero positivo")


def meter_digits_reason() -> str:
    return _("dígitos del medidor: de %(low)s a %(high)s") % {
        "low": METER_DIGITS_MIN,
        "high": METER_DIGITS_MAX,
    }


def validate_units(text: str | None) -> Checked[int]:
    """Units of use; empty is 1."""
    if text is None or not text.strip():
        return _ok(1)
    return _int_range(text, UNITS_MIN, UNITS_MAX, units_reason())


def validate_sequence(text: str | None) -> Checked[int]:
    return _int_range(text, SEQUENCE_MIN, SEQUENCE_MAX, sequence_reason())


def validate_meter_digits(text: str | None) -> Checked[int]:
    """Digits of the meter's register; empty is 5."""
    if text is None or not text.strip():
        return _ok(5)
    return _int_range(text, METER_DIGITS_MIN, METER_DIGITS_MAX, meter_digits_reason())


# --- coordinates ---------------------------------------------------------------------------

COORD_PATTERN = r"^-?[0-9]{1,3}([.,][0-9]{1,6})?$"
#: Generous bounding boxes of each country (mainland and islands): a point outside is
#: almost always a swapped latitude/longitude or a lost minus sign.
COUNTRY_BOUNDS: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {
    # (min lat, max lat, min lon, max lon)
    PERU: (Decimal("-18.5"), Decimal("0.1"), Decimal("-81.5"), Decimal("-68.5")),
    COLOMBIA: (Decimal("-4.3"), Decimal("13.6"), Decimal("-82.0"), Decimal("-66.8")),
}


def coord_format_reason() -> str:
    return _("coordenada en grados decimales con hasta 6 decimales, p. ej. -12.046374")


def coord_range_reason(country: str, axis: str) -> str:
    name = "Perú" if country == PERU else "Colombia"
    if axis == "lat":
        return _("latitud fuera de %(country)s (¿signo o latitud/longitud invertidas?)") % {
            "country": name
        }
    return _("longitud fuera de %(country)s (¿signo o latitud/longitud invertidas?)") % {
        "country": name
    }


def validate_coordinate(country: str, text: str | None, axis: str) -> Checked[Decimal | None]:
    """A latitude (``axis="lat"``) or longitude (``"lon"``) inside the country; empty is
    none. A decimal comma is accepted."""
    if text is None or not text.strip():
        return _ok(None)
    raw = text.strip()
    if not re.match(COORD_PATTERN, raw):
        return _bad(coord_format_reason())
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern already refused it
        return _bad(coord_format_reason())
    lat_min, lat_max, lon_min, lon_max = COUNTRY_BOUNDS[country]
    low, high = (lat_min, lat_max) if axis == "lat" else (lon_min, lon_max)
    if not low <= value <= high:
        return _bad(coord_range_reason(country, axis))
    return _ok(value)


# --- dates ---------------------------------------------------------------------------------

ISO_DATE_PATTERN = r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$"
DMY_DATE_PATTERN = r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$"
MIN_DATE = date(1900, 1, 1)


def date_format_reason() -> str:
    return _("fecha no válida; use AAAA-MM-DD o DD/MM/AAAA")


def date_future_reason() -> str:
    return _("la fecha está en el futuro")


def date_too_old_reason() -> str:
    return _("fecha anterior a 1900")


def parse_date(text: str | None) -> date | None:
    """``2024-03-31`` or ``31/03/2024`` (day first, as written in Peru and Colombia)."""
    if text is None:
        return None
    raw = text.strip()
    try:
        if re.match(ISO_DATE_PATTERN, raw):
            y, m, d = (int(p) for p in raw.split("-"))
            return date(y, m, d)
        if re.match(DMY_DATE_PATTERN, raw):
            d, m, y = (int(p) for p in raw.split("/"))
            return date(y, m, d)
    except ValueError:
        return None
    return None


def validate_date(
    text: str | None, *, today: date, required: bool = True, future_ok: bool = False
) -> Checked[date | None]:
    if text is None or not text.strip():
        return _bad(_("falta la fecha")) if required else _ok(None)
    value = parse_date(text)
    if value is None:
        return _bad(date_format_reason())
    if value < MIN_DATE:
        return _bad(date_too_old_reason())
    if not future_ok and value > today:
        return _bad(date_future_reason())
    return _ok(value)


# --- contact -------------------------------------------------------------------------------

EMAIL_PATTERN = r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}$"
PHONE_PATTERN = r"^\+?[0-9 ()\-]{6,30}$"


def email_reason() -> str:
    return _("correo electrónico no válido")


def phone_reason() -> str:
    return _("teléfono no válido: dígitos, espacios, guiones y un + inicial")


def validate_email(text: str | None) -> Checked[str]:
    if text is None or not text.strip():
        return _ok("")
    raw = text.strip()
    if len(raw) > 254 or not re.match(EMAIL_PATTERN, raw):
        return _bad(email_reason())
    return _ok(raw.lower())


def validate_phone(text: str | None) -> Checked[str]:
    if text is None or not text.strip():
        return _ok("")
    raw = text.strip()
    if not re.match(PHONE_PATTERN, raw):
        return _bad(phone_reason())
    return _ok(raw)
