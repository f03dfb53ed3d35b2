"""The payment barcode of Colombian bills: GS1-128 element strings and a Code 128 encoder.

Pure Python, no Django. Two layers:

1. **GS1 element string** (``gs1_element_string``). Colombian billers print the collection
   barcode ("código de barras para recaudo") as

       (415)GLN(8020)REFERENCE(3900)AMOUNT(96)YYYYMMDD

   - ``415`` pay-to GLN: 13 digits with the GS1 mod-10 check digit; predefined length, so
     no FNC1 follows it;
   - ``8020`` payment slip reference: 1 to 25 characters of the GS1 82-character set
     (Colombian banks want digits); variable length: FNC1 after it;
   - ``3900`` amount payable in whole pesos (0 implied decimals), zero-padded to a fixed
     width agreed with the banks (10 by default, up to 15); variable length: FNC1 after it
     unless it is the last field;
   - ``96`` company internal information, used in Colombia for the payment deadline as
     ``YYYYMMDD``; last field, so nothing follows it.

   The encoded data drops the parentheses, starts with FNC1 (which makes a Code 128 symbol
   a GS1-128 symbol) and has an FNC1 after every variable-length value that is followed by
   another AI. In encoded strings FNC1 is the character :data:`FNC1` (``"\\u241d"``, ␝),
   which can never be data (Code 128 encodes ASCII only).

2. **Code 128** (``code128_values``, ``code128_modules``, ``code128_svg``): the shortest
   symbol over code sets A, B and C (dynamic programming over the start code and the
   switches), FNC1 as symbol value 102, the mod-103 check character, the stop pattern and
   quiet zones of at least ten modules; drawn as SVG rectangles (one per bar) with an
   optional human-readable line.

A scanner reading a GS1-128 symbol transmits the symbology identifier ``]C1`` and the data
with each inner FNC1 as the ASCII group separator (GS, ``\\x1d``); :func:`transmitted` gives
that string for an encoded one, which is what the tests compare with a decoder's output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape

FNC1 = "\u241d"  # ␝: a stand-in for function 1, outside Latin-1 and the GS1 sets
GS = "\x1d"

# GS1 AI encodable character set 82 (GS1 General Specifications, figure 7.11-1).
GS1_CHARSET_82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)

# AIs whose first two digits imply a predefined length: no FNC1 after them (GS1 General
# Specifications, figure 7.8.5-2). Value: total length of AI + data.
PREDEFINED_LENGTH = {
    "00": 20,
    "01": 16,
    "02": 16,
    "03": 16,
    "04": 18,
    **{str(n): 8 for n in range(11, 20)},
    "20": 4,
    **{str(n): 10 for n in range(31, 37)},
    "41": 16,
}

DEFAULT_AMOUNT_WIDTH = 10
MAX_AMOUNT_WIDTH = 15  # AI 390n: N..15
MAX_REFERENCE = 25  # AI 8020: X..25


class BarcodeError(ValueError):
    """Data that cannot go into the payment barcode; the message says which field and why."""


# ------------------------------------------------------------------------------ GS1 data


def gs1_check_digit(digits: str) -> int:
    """GS1 mod-10 check digit of ``digits`` (the data without its check digit).

    From the rightmost digit leftwards the weights are 3, 1, 3, 1, …; the check digit is
    ``(10 - sum mod 10) mod 10``.
    """
    if not digits.isdigit() or not digits.isascii():
        raise BarcodeError(f"check digit of {digits!r}: only digits are allowed")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def validate_gln(gln: str) -> str:
    """Return ``gln`` if it is 13 digits with a correct GS1 check digit, else raise."""
    gln = gln.strip()
    if len(gln) != 13 or not gln.isdigit() or not gln.isascii():
        raise BarcodeError(f"GLN {gln!r}: must be 13 digits")
    expected = gs1_check_digit(gln[:12])
    if int(gln[12]) != expected:
        raise BarcodeError(f"GLN {gln}: wrong check digit {gln[12]}, expected {expected}")
    return gln


def validate_reference(reference: str) -> str:
    """A payment slip reference for AI 8020: 1 to 25 characters of the GS1 set 82."""
    if not reference:
        raise BarcodeError("reference (8020): empty")
    if len(reference) > MAX_REFERENCE:
        raise BarcodeError(
            f"reference (8020) {reference!r}: {len(reference)} characters, at most {MAX_REFERENCE}"
        )
    bad = sorted({c for c in reference if c not in GS1_CHARSET_82})
    if bad:
        raise BarcodeError(f"reference (8020) {reference!r}: characters not allowed: {bad!r}")
    return reference


def format_amount(amount_pesos: int, width: int = DEFAULT_AMOUNT_WIDTH) -> str:
    """Whole pesos zero-padded to ``width`` digits for AI 3900."""
    if isinstance(amount_pesos, bool) or not isinstance(amount_pesos, int):
        raise BarcodeError(f"amount (3900) {amount_pesos!r}: whole pesos as an int")
    if not 1 <= width <= MAX_AMOUNT_WIDTH:
        raise BarcodeError(f"amount width {width}: between 1 and {MAX_AMOUNT_WIDTH}")
    if amount_pesos < 0:
        raise BarcodeError(f"amount (3900) {amount_pesos}: negative")
    text = str(amount_pesos).zfill(width)
    if len(text) > width:
        raise BarcodeError(f"amount (3900) {amount_pesos}: more than {width} digits")
    return text


@dataclass(frozen=True)
class Element:
    ai: str
    value: str

    @property
    def predefined_length(self) -> bool:
        return self.ai[:2] in PREDEFINED_LENGTH


def element_strings(elements: list[Element]) -> tuple[str, str]:
    """Human-readable ``(AI)value…`` and encoded data (leading FNC1, FNC1 separators)."""
    if not elements:
        raise BarcodeError("no elements")
    human = "".join(f"({e.ai}){e.value}" for e in elements)
    parts = [FNC1]
    for index, e in enumerate(elements):
        if e.predefined_length and len(e.ai) + len(e.value) != PREDEFINED_LENGTH[e.ai[:2]]:
            raise BarcodeError(f"AI {e.ai}: value {e.value!r} has the wrong length")
        parts.append(e.ai + e.value)
        last = index == len(elements) - 1
        if not last and not e.predefined_length:
            parts.append(FNC1)
    return human, "".join(parts)


def gs1_element_string(
    gln: str,
    reference: str,
    amount_pesos: int,
    due: date,
    *,
    amount_width: int = DEFAULT_AMOUNT_WIDTH,
) -> tuple[str, str]:
    """``(415)GLN(8020)REF(3900)AMOUNT(96)YYYYMMDD`` → (human readable, encoded with FNC1).

    >>> human, encoded = gs1_element_string("7709998000018", "12345678", 45600, date(2026, 12, 20))
    >>> human
    '(415)7709998000018(8020)12345678(3900)0000045600(96)20261220'
    >>> encoded.replace(FNC1, "<FNC1>")
    '<FNC1>4157709998000018802012345678<FNC1>39000000045600<FNC1>9620261220'
    """
    return element_strings(
        [
            Element("415", validate_gln(gln)),
            Element("8020", validate_reference(reference)),
            Element("3900", format_amount(amount_pesos, amount_width)),
            Element("96", due.strftime("%Y%m%d")),
        ]
    )


def transmitted(encoded: str) -> str:
    """What a scanner sends for a GS1-128 symbol: ``]C1`` + data, inner FNC1 as GS."""
    if not encoded.startswith(FNC1):
        raise BarcodeError("a GS1-128 data string starts with FNC1")
    return "]C1" + encoded[1:].replace(FNC1, GS)


_HRI_PART = re.compile(r"\((\d{2,4})\)([^()]*)")


def parse_human_readable(human: str) -> list[Element]:
    """``(415)…(8020)…`` → elements (for tests and for reading what a decoder reports)."""
    elements = [Element(m.group(1), m.group(2)) for m in _HRI_PART.finditer(human)]
    if "".join(f"({e.ai}){e.value}" for e in elements) != human:
        raise BarcodeError(f"not a bracketed GS1 element string: {human!r}")
    return elements


# ------------------------------------------------------------------------------ Code 128

# Bar/space widths of symbol values 0..105, then the stop pattern (value 106).
_PATTERN_TABLE = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 "
    "221312 231212 112232 122132 122231 113222 123122 123221 223211 221132 "
    "221231 213212 223112 312131 311222 321122 321221 312212 322112 322211 "
    "212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 "
    "231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 "
    "231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 "
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 "
    "112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 "
    "111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 "
    "214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 "
    "114131 311141 411131 211412 211214 211232 2331112"
)
PATTERNS = tuple(_PATTERN_TABLE.split())

SET_A, SET_B, SET_C = "A", "B", "C"
_SETS = (SET_B, SET_C, SET_A)  # preference when two encodings are equally short
START = {SET_A: 103, SET_B: 104, SET_C: 105}
SWITCH = {SET_A: 101, SET_B: 100, SET_C: 99}  # value that switches *to* the set
SHIFT = 98  # in A or B: the next character only is read in the other of the two
FNC1_VALUE = 102
STOP = 106
QUIET_MODULES = 10


def _value_in(code_set: str, ch: str) -> int | None:
    o = ord(ch)
    if code_set == SET_A:
        if 32 <= o <= 95:
            return o - 32
        if 0 <= o <= 31:
            return o + 64
        return None
    if code_set == SET_B:
        return o - 32 if 32 <= o <= 127 else None
    return None


def code128_values(data: str) -> list[int]:
    """Symbol values of the shortest Code 128 symbol for ``data``: start, data (with code
    set switches and shifts), check character, stop. ``FNC1`` in ``data`` becomes value
    102. Ties go to code set B, then C, then A."""
    if not data:
        raise BarcodeError("nothing to encode")
    n = len(data)
    inf = 10**9
    # cost[i][s]: fewest symbol characters that encode data[:i] and leave code set s active
    cost = [dict.fromkeys(_SETS, inf) for _ in range(n + 1)]
    back: list[dict[str, tuple[int, str, list[int]] | None]] = [
        dict.fromkeys(_SETS) for _ in range(n + 1)
    ]
    for s in _SETS:
        cost[0][s] = 1  # the start character
    for i in range(n + 1):
        # a switch inside position i (never two in a row: one switch reaches any set)
        base = dict(cost[i])
        for s in _SETS:
            for t in _SETS:
                if t != s and base[t] + 1 < cost[i][s]:
                    cost[i][s] = base[t] + 1
                    back[i][s] = (i, t, [SWITCH[s]])
        if i == n:
            break
        ch = data[i]
        for s in _SETS:
            c = cost[i][s]
            if c >= inf:
                continue
            if ch == FNC1:
                step: tuple[int, list[int]] | None = (i + 1, [FNC1_VALUE])
            elif s == SET_C:
                pair = data[i : i + 2]
                step = (
                    (i + 2, [int(pair)])
                    if len(pair) == 2 and pair.isdigit() and pair.isascii()
                    else None
                )
            else:
                value = _value_in(s, ch)
                step = (i + 1, [value]) if value is not None else None
                other = SET_B if s == SET_A else SET_A
                shifted = _value_in(other, ch) if s != SET_C else None
                if value is None and shifted is not None and c + 2 < cost[i + 1][s]:
                    cost[i + 1][s] = c + 2
                    back[i + 1][s] = (i, s, [SHIFT, shifted])
            if step is None:
                continue
            j, values = step
            if c + 1 < cost[j][s]:
                cost[j][s] = c + 1
                back[j][s] = (i, s, values)
    end = min(_SETS, key=lambda s: (cost[n][s], _SETS.index(s)))
    if cost[n][end] >= inf:
        bad = sorted({c for c in data if c != FNC1 and ord(c) > 127})
        raise BarcodeError(f"Code 128 cannot encode {bad!r}")
    # walk back to the start
    reversed_values: list[int] = []
    i, s = n, end
    while back[i][s] is not None:
        entry = back[i][s]
        assert entry is not None
        pi, ps, values = entry
        reversed_values.extend(reversed(values))
        i, s = pi, ps
    assert i == 0
    body = list(reversed(reversed_values))
    start = START[s]
    checksum = (start + sum(v * k for k, v in enumerate(body, start=1))) % 103
    return [start, *body, checksum, STOP]


def code128_modules(data: str, *, quiet: int = QUIET_MODULES) -> list[int]:
    """The symbol as run lengths in modules, alternating space, bar, space, …, space
    (first and last runs are the quiet zones)."""
    if quiet < QUIET_MODULES:
        raise BarcodeError(f"quiet zones of {quiet} modules: Code 128 needs at least 10")
    runs = [quiet]
    for value in code128_values(data):
        runs.extend(int(w) for w in PATTERNS[value])
    runs.append(quiet)
    return runs


@dataclass(frozen=True)
class BarcodeSVG:
    svg: str
    width_mm: float
    height_mm: float
    modules: int


def code128_svg(
    data: str,
    *,
    module_mm: float = 0.3,
    height_mm: float = 15.0,
    text: str | None = None,
    font_mm: float = 2.6,
    quiet: int = QUIET_MODULES,
) -> BarcodeSVG:
    """Code 128 as an SVG document: one black rectangle per bar, white background including
    the quiet zones, and ``text`` (the human-readable line) centred under the bars."""
    runs = code128_modules(data, quiet=quiet)
    total = sum(runs)
    text_h = font_mm * 1.5 if text else 0.0
    width = total * module_mm
    height = height_mm + text_h
    rects = []
    x = 0
    for k, run in enumerate(runs):
        if k % 2 == 1:
            rects.append(f'<rect x="{x}" y="0" width="{run}" height="{height_mm / module_mm:g}"/>')
        x += run
    vb_h = height / module_mm
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.3f}mm" height="{height:.3f}mm" '
        f'viewBox="0 0 {total} {vb_h:g}" shape-rendering="crispEdges">',
        f'<rect x="0" y="0" width="{total}" height="{vb_h:g}" fill="#fff"/>',
        '<g fill="#000">',
        *rects,
        "</g>",
    ]
    if text:
        parts.append(
            f'<text x="{total / 2:g}" y="{(height_mm + font_mm * 1.15) / module_mm:g}" '
            f'font-family="DejaVu Sans Mono, monospace" font-size="{font_mm / module_mm:g}" '
            f'text-anchor="middle" fill="#000">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return BarcodeSVG("".join(parts), width, height, total)
