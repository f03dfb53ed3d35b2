"""Server-side SVG charts as strings: no JavaScript, no CDN, the same markup in a web page and
in a WeasyPrint PDF.

Every chart is a pure function over plain data (``(label, int)`` pairs or series of ints)
and returns one ``<svg>`` element as a string:

- :func:`bar_chart`: one bar per label, vertical or horizontal (negative values go below /
  left of the zero line);
- :func:`stacked_bar_chart`: categories × series, vertical or horizontal, with a legend;
- :func:`pyramid_chart`: a population-pyramid style aging chart, one row per age bucket,
  two measures back to back (e.g. accounts on the left, value on the right);
- :func:`line_chart`: a trend over labelled points (12 months), one or more series; ``None``
  leaves a gap.

Accessibility: ``role="img"`` with ``<title>`` and ``<desc>`` (the desc lists every figure,
so a screen reader gets the data), a ``<title>`` on every mark (tooltip), visible text
labels for the figures, and colours from the Okabe–Ito palette (distinguishable with colour
blindness). Numbers are shown as the caller formats them: pass ``value_labels`` (e.g.
``"S/ 1.234,50"`` from the money filters) and ``tick_format`` for the axis; the defaults are
:func:`compact_number` (``"1,2 M"``) and plain grouping (:func:`group_number`).

Output is deterministic (same input, same bytes): coordinates are rounded to 0.1 and the
element id is derived from a hash of the input unless ``chart_id`` is given. All text is
escaped. The markup uses only ``rect``, ``line``, ``polyline``, ``circle``, ``text``, ``g``,
``a`` and presentation attributes (no CSS variables, no ``dominant-baseline``) so WeasyPrint
renders it like a browser does. Marks can link (``hrefs``) to a drill-down page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from html import escape

from django.utils.translation import gettext as _

#: Okabe–Ito palette (colour-blind safe), in the order series use it.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#56B4E9",
    "#CC79A7",
    "#F0E442",
    "#000000",
)
NEGATIVE = "#D55E00"
TEXT = "#1f2933"
MUTED = "#616e7c"
GRID = "#d9dee3"
AXIS = "#7b8794"
FONT = "sans-serif"
FONT_SIZE = 11
CHAR_WIDTH = 6.2  # average advance of an 11 px sans-serif character, for layout estimates

Formatter = Callable[[int], str]


# --------------------------------------------------------------------------- numbers


def group_number(value: int, sep: str = ".") -> str:
    """``1234567`` → ``"1.234.567"`` (Spanish grouping; pass ``sep=","`` for es-PE)."""
    sign = "-" if value < 0 else ""
    digits = str(abs(int(value)))
    groups = []
    while digits:
        groups.append(digits[-3:])
        digits = digits[:-3]
    return sign + sep.join(reversed(groups))


def compact_number(value: int) -> str:
    """Short Spanish form for axis ticks: ``950``, ``12,5 mil``, ``3,4 M``, ``1,2 mil M``
    (one decimal, half-up, ``,0`` dropped). Integer arithmetic only."""
    value = int(value)
    sign = "-" if value < 0 else ""
    n = abs(value)
    for scale, suffix in ((10**9, " mil M"), (10**6, " M"), (10**3, " mil")):
        if n >= scale:
            tenths = (n * 10 + scale // 2) // scale
            whole, dec = divmod(tenths, 10)
            text = group_number(whole) + (f",{dec}" if dec else "")
            return f"{sign}{text}{suffix}"
    return f"{sign}{n}"


def nice_ticks(low: int, high: int, count: int = 5) -> list[int]:
    """Round tick values (steps of 1, 2 or 5 × 10ⁿ) covering ``low``..``high`` (ints)."""
    low, high = int(low), int(high)
    if low > high:
        low, high = high, low
    if low == high:
        if low == 0:
            return [0, 1]
        low, high = min(0, low), max(0, high)
    span = high - low
    raw = max(1, -(-span // max(1, count)))  # ceil division
    magnitude = 10 ** (len(str(raw)) - 1)
    step = magnitude * 10
    for m in (1, 2, 5, 10):
        if m * magnitude >= raw:
            step = m * magnitude
            break
    start = (low // step) * step
    end = -(-high // step) * step
    return list(range(start, end + step, step))


# --------------------------------------------------------------------------- markup helpers


def _n(x: float) -> str:
    """A coordinate rounded to 0.1, without a trailing ``.0`` (deterministic text)."""
    r = round(x + 0.0, 1)
    if r == int(r):
        return str(int(r))
    return f"{r:.1f}"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _clip(text: str, max_chars: int) -> str:
    if max_chars < 2:
        return "…" if text else ""
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    size: int = FONT_SIZE,
    fill: str = TEXT,
    weight: str | None = None,
) -> str:
    w = f' font-weight="{weight}"' if weight else ""
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" font-size="{size}"'
        f' fill="{fill}"{w}>{_e(text)}</text>'
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str, href: str | None) -> str:
    mark = (
        f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(max(0.0, w))}" height="{_n(max(0.0, h))}"'
        f' fill="{fill}"><title>{_e(tip)}</title></rect>'
    )
    if href:
        return f'<a href="{_e(href)}">{mark}</a>'
    return mark


def _chart_id(chart_id: str | None, *parts: object) -> str:
    if chart_id:
        return chart_id
    digest = hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:10]
    return f"chart-{digest}"


def _svg(
    cid: str, width: int, height: int, title: str, desc: str, body: list[str], kind: str
) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" id="{_e(cid)}"'
        f' viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img"'
        f' aria-labelledby="{_e(cid)}-title {_e(cid)}-desc"'
        f' font-family="{FONT}" font-size="{FONT_SIZE}">'
        f'<title id="{_e(cid)}-title">{_e(title)}</title>'
        f'<desc id="{_e(cid)}-desc">{_e(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _empty(cid: str, width: int, height: int, title: str, kind: str) -> str:
    note = _("Sin datos")
    body = [
        _text(12, 20, title, weight="bold"),
        _text(width / 2, height / 2, note, anchor="middle", fill=MUTED, size=13),
    ]
    return _svg(cid, width, height, title, note, body, kind)


def _labels(
    values: Sequence[int], labels: Sequence[str] | None, fmt: Formatter, what: str
) -> list[str]:
    if labels is None:
        return [fmt(v) for v in values]
    if len(labels) != len(values):
        raise ValueError(f"{what}: {len(labels)} labels for {len(values)} values")
    return [str(s) for s in labels]


def _hrefs(hrefs: Sequence[str | None] | None, n: int, what: str) -> list[str | None]:
    if hrefs is None:
        return [None] * n
    if len(hrefs) != n:
        raise ValueError(f"{what}: {len(hrefs)} links for {n} values")
    return list(hrefs)


def _legend(x: float, y: float, names: Sequence[str], colors: Sequence[str], width: float) -> str:
    """One row of swatches + names starting at (x, y), wrapping at ``width``."""
    out = ['<g class="legend">']
    cx, cy = x, y
    for name, color in zip(names, colors, strict=True):
        w = 16 + len(name) * CHAR_WIDTH + 14
        if cx + w > x + width and cx > x:
            cx, cy = x, cy + 16
        out.append(f'<rect x="{_n(cx)}" y="{_n(cy - 9)}" width="10" height="10" fill="{color}"/>')
        out.append(_text(cx + 14, cy, name))
        cx += w
    out.append("</g>")
    return "".join(out)


def _legend_height(names: Sequence[str], width: float) -> float:
    rows, cx = 1, 0.0
    for name in names:
        w = 16 + len(name) * CHAR_WIDTH + 14
        if cx + w > width and cx > 0:
            rows, cx = rows + 1, 0.0
        cx += w
    return rows * 16


# --------------------------------------------------------------------------- bar charts


def bar_chart(
    data: Sequence[tuple[str, int]],
    *,
    title: str,
    desc: str | None = None,
    value_labels: Sequence[str] | None = None,
    hrefs: Sequence[str | None] | None = None,
    horizontal: bool = False,
    tick_format: Formatter = compact_number,
    width: int = 560,
    height: int | None = None,
    color: str = PALETTE[0],
    chart_id: str | None = None,
) -> str:
    """Bars for ``(label, value)`` pairs, in the given order.

    ``value_labels`` are the figures printed on the bars (default: grouped integers);
    ``hrefs`` make each bar a link. Horizontal bars suit long labels (zones, stages); the
    height then grows with the number of bars unless given.
    """
    labels = [str(lbl) for lbl, _v in data]
    values = [int(v) for _l, v in data]
    shown = _labels(values, value_labels, group_number, "bar_chart")
    links = _hrefs(hrefs, len(values), "bar_chart")
    cid = _chart_id(chart_id, "bar", title, labels, values, shown, links, horizontal)
    if height is None:
        height = 40 + 26 * len(values) + 30 if horizontal else 300
    if not values:
        return _empty(cid, width, height, title, "bar")
    if desc is None:
        desc = "; ".join(f"{lbl}: {s}" for lbl, s in zip(labels, shown, strict=True))
    ticks = nice_ticks(min(0, *values), max(0, *values))
    lo, hi = ticks[0], ticks[-1]
    body = [_text(8, 16, title, weight="bold")]
    if horizontal:
        label_w = min(width * 0.38, 12 + CHAR_WIDTH * max(len(s) for s in labels))
        value_w = min(width * 0.22, 10 + CHAR_WIDTH * max(len(s) for s in shown))
        x0, x1 = label_w + 8, width - value_w - 8
        y0, y1 = 30, height - 22
        band = (y1 - y0) / len(values)
        bar_h = max(4.0, band * 0.68)

        def sx(v: int) -> float:
            return x0 + (v - lo) * (x1 - x0) / (hi - lo)

        for t in ticks:
            body.append(
                f'<line x1="{_n(sx(t))}" y1="{_n(y0)}" x2="{_n(sx(t))}" y2="{_n(y1)}"'
                f' stroke="{GRID}" stroke-width="1"/>'
            )
            body.append(_text(sx(t), y1 + 14, tick_format(t), anchor="middle", fill=MUTED))
        zero = sx(0)
        max_chars = int((label_w - 8) / CHAR_WIDTH)
        for i, (lbl, v, s, href) in enumerate(zip(labels, values, shown, links, strict=True)):
            top = y0 + i * band + (band - bar_h) / 2
            left, right = (zero, sx(v)) if v >= 0 else (sx(v), zero)
            fill = color if v >= 0 else NEGATIVE
            body.append(_text(x0 - 6, top + bar_h / 2 + 4, _clip(lbl, max_chars), anchor="end"))
            body.append(_rect(left, top, right - left, bar_h, fill, f"{lbl}: {s}", href))
            if v >= 0:
                body.append(_text(right + 4, top + bar_h / 2 + 4, s))
            else:
                body.append(_text(zero + 4, top + bar_h / 2 + 4, s))
        body.append(
            f'<line x1="{_n(zero)}" y1="{_n(y0)}" x2="{_n(zero)}" y2="{_n(y1)}"'
            f' stroke="{AXIS}" stroke-width="1"/>'
        )
    else:
        tick_w = 10 + CHAR_WIDTH * max(len(tick_format(t)) for t in ticks)
        x0, x1 = tick_w + 6, width - 10
        y0, y1 = 36, height - 34
        band = (x1 - x0) / len(values)
        bar_w = max(2.0, band * 0.7)

        def sy(v: int) -> float:
            return y1 - (v - lo) * (y1 - y0) / (hi - lo)

        for t in ticks:
            body.append(
                f'<line x1="{_n(x0)}" y1="{_n(sy(t))}" x2="{_n(x1)}" y2="{_n(sy(t))}"'
                f' stroke="{GRID}" stroke-width="1"/>'
            )
            body.append(_text(x0 - 4, sy(t) + 4, tick_format(t), anchor="end", fill=MUTED))
        zero = sy(0)
        max_chars = int(band / CHAR_WIDTH)
        for i, (lbl, v, s, href) in enumerate(zip(labels, values, shown, links, strict=True)):
            left = x0 + i * band + (band - bar_w) / 2
            top, bottom = (sy(v), zero) if v >= 0 else (zero, sy(v))
            fill = color if v >= 0 else NEGATIVE
            body.append(_rect(left, top, bar_w, bottom - top, fill, f"{lbl}: {s}", href))
            label_y = top - 4 if v >= 0 else bottom + 12
            body.append(_text(left + bar_w / 2, label_y, _clip(s, max_chars + 2), anchor="middle"))
            body.append(_text(left + bar_w / 2, y1 + 16, _clip(lbl, max_chars), anchor="middle"))
        body.append(
            f'<line x1="{_n(x0)}" y1="{_n(zero)}" x2="{_n(x1)}" y2="{_n(zero)}"'
            f' stroke="{AXIS}" stroke-width="1"/>'
        )
    return _svg(cid, width, height, title, desc, body, "bar")


def stacked_bar_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
    desc: str | None = None,
    value_labels: Sequence[Sequence[str]] | None = None,
    total_labels: Sequence[str] | None = None,
    hrefs: Sequence[Sequence[str | None]] | None = None,
    horizontal: bool = False,
    tick_format: Formatter = compact_number,
    width: int = 560,
    height: int | None = None,
    colors: Sequence[str] = PALETTE,
    chart_id: str | None = None,
) -> str:
    """Stacked bars: one bar per category, one segment per series (``(name, values)``, a
    value per category, non-negative). ``value_labels[s][c]`` are the segment figures (in
    tooltips and the desc), ``total_labels[c]`` the totals printed at the bar ends,
    ``hrefs[s][c]`` segment links."""
    cats = [str(c) for c in categories]
    names = [str(name) for name, _vals in series]
    matrix = [[int(v) for v in vals] for _name, vals in series]
    for name, row in zip(names, matrix, strict=True):
        if len(row) != len(cats):
            raise ValueError(f"stacked_bar_chart: series {name!r} has {len(row)} values")
        if any(v < 0 for v in row):
            raise ValueError(f"stacked_bar_chart: series {name!r} has a negative value")
    if value_labels is None:
        seg_labels = [[group_number(v) for v in row] for row in matrix]
    else:
        if len(value_labels) != len(matrix):
            raise ValueError("stacked_bar_chart: one list of value labels per series")
        seg_labels = [
            _labels(row, lbls, group_number, "stacked_bar_chart")
            for row, lbls in zip(matrix, value_labels, strict=True)
        ]
    totals = [sum(col) for col in zip(*matrix, strict=True)] if matrix else [0] * len(cats)
    shown_totals = _labels(totals, total_labels, group_number, "stacked_bar_chart totals")
    links = (
        [_hrefs(row, len(cats), "stacked_bar_chart") for row in hrefs]
        if hrefs is not None
        else [[None] * len(cats) for _ in matrix]
    )
    if len(links) != len(matrix):
        raise ValueError("stacked_bar_chart: one list of links per series")
    palette = [colors[i % len(colors)] for i in range(len(names))]
    cid = _chart_id(chart_id, "stack", title, cats, names, matrix, seg_labels, links, horizontal)
    if height is None:
        height = 70 + 26 * len(cats) + 30 if horizontal else 320
    if not cats or not matrix or not any(totals):
        return _empty(cid, width, height, title, "stack")
    if desc is None:
        desc = "; ".join(
            f"{c}: "
            + ", ".join(f"{n} {seg_labels[s][i]}" for s, n in enumerate(names) if matrix[s][i])
            + f" ({_('total')} {shown_totals[i]})"
            for i, c in enumerate(cats)
        )
    ticks = nice_ticks(0, max(totals))
    hi = ticks[-1]
    legend_h = _legend_height(names, width - 16)
    body = [_text(8, 16, title, weight="bold"), _legend(8, 34, names, palette, width - 16)]
    top_margin = 30 + legend_h + 8
    if horizontal:
        label_w = min(width * 0.38, 12 + CHAR_WIDTH * max(len(c) for c in cats))
        total_w = min(width * 0.22, 10 + CHAR_WIDTH * max(len(s) for s in shown_totals))
        x0, x1 = label_w + 8, width - total_w - 8
        y0, y1 = top_margin, height - 22
        band = (y1 - y0) / len(cats)
        bar_h = max(4.0, band * 0.68)

        def sx(v: int) -> float:
            return x0 + v * (x1 - x0) / hi

        for t in ticks:
            body.append(
                f'<line x1="{_n(sx(t))}" y1="{_n(y0)}" x2="{_n(sx(t))}" y2="{_n(y1)}"'
                f' stroke="{GRID}" stroke-width="1"/>'
            )
            body.append(_text(sx(t), y1 + 14, tick_format(t), anchor="middle", fill=MUTED))
        max_chars = int((label_w - 8) / CHAR_WIDTH)
        for i, cat in enumerate(cats):
            top = y0 + i * band + (band - bar_h) / 2
            body.append(_text(x0 - 6, top + bar_h / 2 + 4, _clip(cat, max_chars), anchor="end"))
            acc = 0
            for s, name in enumerate(names):
                v = matrix[s][i]
                if v:
                    tip = f"{cat} · {name}: {seg_labels[s][i]}"
                    body.append(
                        _rect(
                            sx(acc), top, sx(acc + v) - sx(acc), bar_h, palette[s], tip, links[s][i]
                        )
                    )
                acc += v
            body.append(_text(sx(acc) + 4, top + bar_h / 2 + 4, shown_totals[i]))
    else:
        tick_w = 10 + CHAR_WIDTH * max(len(tick_format(t)) for t in ticks)
        x0, x1 = tick_w + 6, width - 10
        y0, y1 = top_margin + 10, height - 34
        band = (x1 - x0) / len(cats)
        bar_w = max(2.0, band * 0.7)

        def sy(v: int) -> float:
            return y1 - v * (y1 - y0) / hi

        for t in ticks:
            body.append(
                f'<line x1="{_n(x0)}" y1="{_n(sy(t))}" x2="{_n(x1)}" y2="{_n(sy(t))}"'
                f' stroke="{GRID}" stroke-width="1"/>'
            )
            body.append(_text(x0 - 4, sy(t) + 4, tick_format(t), anchor="end", fill=MUTED))
        max_chars = int(band / CHAR_WIDTH)
        for i, cat in enumerate(cats):
            left = x0 + i * band + (band - bar_w) / 2
            acc = 0
            for s, name in enumerate(names):
                v = matrix[s][i]
                if v:
                    tip = f"{cat} · {name}: {seg_labels[s][i]}"
                    body.append(
                        _rect(
                            left,
                            sy(acc + v),
                            bar_w,
                            sy(acc) - sy(acc + v),
                            palette[s],
                            tip,
                            links[s][i],
                        )
                    )
                acc += v
            body.append(
                _text(
                    left + bar_w / 2,
                    sy(acc) - 4,
                    _clip(shown_totals[i], max_chars + 2),
                    anchor="middle",
                )
            )
            body.append(_text(left + bar_w / 2, y1 + 16, _clip(cat, max_chars), anchor="middle"))
        body.append(
            f'<line x1="{_n(x0)}" y1="{_n(y1)}" x2="{_n(x1)}" y2="{_n(y1)}"'
            f' stroke="{AXIS}" stroke-width="1"/>'
        )
    return _svg(cid, width, height, title, desc, body, "stack")


# --------------------------------------------------------------------------- pyramid


def pyramid_chart(
    rows: Sequence[tuple[str, int, int]],
    *,
    title: str,
    left_title: str,
    right_title: str,
    desc: str | None = None,
    left_labels: Sequence[str] | None = None,
    right_labels: Sequence[str] | None = None,
    left_hrefs: Sequence[str | None] | None = None,
    right_hrefs: Sequence[str | None] | None = None,
    width: int = 560,
    height: int | None = None,
    left_color: str = PALETTE[4],
    right_color: str = PALETTE[0],
    chart_id: str | None = None,
) -> str:
    """A population-pyramid style aging chart: ``rows`` are ``(bucket, left, right)`` in age
    order (youngest first, drawn at the bottom, like a population pyramid), the bucket
    names down the middle, ``left`` (e.g. accounts) growing to the left and ``right``
    (e.g. value) to the right. Each side has its own scale (different units).
    Negative values are drawn as 0 (a bucket cannot hold a negative count)."""
    names = [str(r[0]) for r in rows]
    lefts = [int(r[1]) for r in rows]
    rights = [int(r[2]) for r in rows]
    lshown = _labels(lefts, left_labels, group_number, "pyramid_chart left")
    rshown = _labels(rights, right_labels, group_number, "pyramid_chart right")
    llinks = _hrefs(left_hrefs, len(rows), "pyramid_chart left")
    rlinks = _hrefs(right_hrefs, len(rows), "pyramid_chart right")
    cid = _chart_id(
        chart_id,
        "pyramid",
        title,
        names,
        lefts,
        rights,
        lshown,
        rshown,
        llinks,
        rlinks,
        left_title,
        right_title,
    )
    if height is None:
        height = 60 + 24 * len(rows) + 10
    if not rows or not (any(v > 0 for v in lefts) or any(v > 0 for v in rights)):
        return _empty(cid, width, height, title, "pyramid")
    if desc is None:
        desc = "; ".join(
            f"{n}: {left_title} {ls}, {right_title} {rs}"
            for n, ls, rs in zip(names, lshown, rshown, strict=True)
        )
    mid = width / 2
    center_w = min(width * 0.2, 14 + CHAR_WIDTH * max(len(n) for n in names))
    lab_l = min(width * 0.14, 8 + CHAR_WIDTH * max(len(s) for s in lshown))
    lab_r = min(width * 0.14, 8 + CHAR_WIDTH * max(len(s) for s in rshown))
    left_edge, left_zero = 6 + lab_l, mid - center_w / 2
    right_zero, right_edge = mid + center_w / 2, width - 6 - lab_r
    y0, y1 = 50, height - 10
    band = (y1 - y0) / len(rows)
    bar_h = max(4.0, band * 0.72)
    lmax = max(1, *lefts)
    rmax = max(1, *rights)
    body = [
        _text(8, 16, title, weight="bold"),
        _text(left_zero, 38, left_title, anchor="end", fill=MUTED, weight="bold"),
        _text(right_zero, 38, right_title, anchor="start", fill=MUTED, weight="bold"),
    ]
    max_chars = int((center_w - 6) / CHAR_WIDTH)
    for i in range(len(rows)):
        row = len(rows) - 1 - i  # youngest at the bottom
        top = y0 + row * band + (band - bar_h) / 2
        cy = top + bar_h / 2 + 4
        lw = max(0, lefts[i]) * (left_zero - left_edge) / lmax
        rw = max(0, rights[i]) * (right_edge - right_zero) / rmax
        body.append(_text(mid, cy, _clip(names[i], max_chars), anchor="middle"))
        body.append(
            _rect(
                left_zero - lw,
                top,
                lw,
                bar_h,
                left_color,
                f"{names[i]} · {left_title}: {lshown[i]}",
                llinks[i],
            )
        )
        body.append(_text(left_zero - lw - 4, cy, lshown[i], anchor="end"))
        body.append(
            _rect(
                right_zero,
                top,
                rw,
                bar_h,
                right_color,
                f"{names[i]} · {right_title}: {rshown[i]}",
                rlinks[i],
            )
        )
        body.append(_text(right_zero + rw + 4, cy, rshown[i]))
    for x in (left_zero, right_zero):
        body.append(
            f'<line x1="{_n(x)}" y1="{_n(y0)}" x2="{_n(x)}" y2="{_n(y1)}"'
            f' stroke="{AXIS}" stroke-width="1"/>'
        )
    return _svg(cid, width, height, title, desc, body, "pyramid")


# --------------------------------------------------------------------------- line chart


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int | None]]],
    *,
    title: str,
    desc: str | None = None,
    value_labels: Sequence[Sequence[str]] | None = None,
    hrefs: Sequence[str | None] | None = None,
    tick_format: Formatter = compact_number,
    width: int = 560,
    height: int = 280,
    colors: Sequence[str] = PALETTE,
    chart_id: str | None = None,
) -> str:
    """A trend over labelled points (e.g. 12 months): ``series`` are ``(name, values)``
    with one value (or ``None``, a gap) per label. ``value_labels[s][i]`` are shown in the
    point tooltips and the desc, and the last point of each series is labelled on the
    chart. ``hrefs[i]`` makes the points of column ``i`` links (e.g. to that month)."""
    xs = [str(lbl) for lbl in labels]
    names = [str(name) for name, _vals in series]
    matrix: list[list[int | None]] = [
        [None if v is None else int(v) for v in vals] for _name, vals in series
    ]
    for name, row in zip(names, matrix, strict=True):
        if len(row) != len(xs):
            raise ValueError(f"line_chart: series {name!r} has {len(row)} values for {len(xs)}")
    if value_labels is None:
        shown = [["" if v is None else group_number(v) for v in row] for row in matrix]
    else:
        if len(value_labels) != len(matrix) or any(len(lbls) != len(xs) for lbls in value_labels):
            raise ValueError("line_chart: value labels must match the series")
        shown = [[str(s) for s in lbls] for lbls in value_labels]
    links = _hrefs(hrefs, len(xs), "line_chart")
    palette = [colors[i % len(colors)] for i in range(len(names))]
    cid = _chart_id(chart_id, "line", title, xs, names, matrix, shown, links)
    present = [v for row in matrix for v in row if v is not None]
    if not xs or not present:
        return _empty(cid, width, height, title, "line")
    if desc is None:
        desc = "; ".join(
            f"{x}: "
            + ", ".join(
                f"{n} {shown[s][i]}" for s, n in enumerate(names) if matrix[s][i] is not None
            )
            for i, x in enumerate(xs)
            if any(row[i] is not None for row in matrix)
        )
    ticks = nice_ticks(min(0, *present), max(0, *present))
    lo, hi = ticks[0], ticks[-1]
    legend_h = _legend_height(names, width - 16)
    tick_w = 10 + CHAR_WIDTH * max(len(tick_format(t)) for t in ticks)
    last_w = 8 + CHAR_WIDTH * max(
        (
            len(shown[s][max(i for i, v in enumerate(row) if v is not None)])
            for s, row in enumerate(matrix)
            if any(v is not None for v in row)
        ),
        default=0,
    )
    x0, x1 = tick_w + 6, width - min(width * 0.25, last_w) - 6
    y0, y1 = 30 + legend_h + 14, height - 34
    step = (x1 - x0) / max(1, len(xs) - 1)

    def sx(i: int) -> float:
        return x0 + i * step if len(xs) > 1 else (x0 + x1) / 2

    def sy(v: int) -> float:
        return y1 - (v - lo) * (y1 - y0) / (hi - lo)

    body = [_text(8, 16, title, weight="bold"), _legend(8, 34, names, palette, width - 16)]
    for t in ticks:
        body.append(
            f'<line x1="{_n(x0)}" y1="{_n(sy(t))}" x2="{_n(x1)}" y2="{_n(sy(t))}"'
            f' stroke="{GRID if t else AXIS}" stroke-width="1"/>'
        )
        body.append(_text(x0 - 4, sy(t) + 4, tick_format(t), anchor="end", fill=MUTED))
    every = max(1, -(-len(xs) * 7 * CHAR_WIDTH // max(1.0, x1 - x0)))  # thin crowded labels
    every = int(every)
    for i, x in enumerate(xs):
        if (len(xs) - 1 - i) % every == 0:  # counted from the end: the last is shown
            body.append(_text(sx(i), y1 + 16, _clip(x, 10), anchor="middle"))
    ends: list[tuple[float, float, str, str]] = []
    for s, name in enumerate(names):
        row = matrix[s]
        runs: list[list[int]] = [[]]
        for i, v in enumerate(row):
            if v is None:
                if runs[-1]:
                    runs.append([])
            else:
                runs[-1].append(i)
        body.append(f'<g class="series" fill="{palette[s]}" stroke="{palette[s]}">')
        for run in runs:
            if len(run) > 1:
                pts = " ".join(f"{_n(sx(i))},{_n(sy(row[i] or 0))}" for i in run)
                body.append(f'<polyline points="{pts}" fill="none" stroke-width="2"/>')
        for i, v in enumerate(row):
            if v is None:
                continue
            mark = (
                f'<circle cx="{_n(sx(i))}" cy="{_n(sy(v))}" r="3" stroke="none">'
                f"<title>{_e(xs[i])} · {_e(name)}: {_e(shown[s][i])}</title></circle>"
            )
            body.append(f'<a href="{_e(links[i])}">{mark}</a>' if links[i] else mark)
        body.append("</g>")
        filled = [i for i, v in enumerate(row) if v is not None]
        if filled:
            i = filled[-1]
            ends.append((sy(row[i] or 0) + 4, sx(i) + 6, shown[s][i], palette[s]))
    # Last-point labels, pushed apart vertically so two series ending close stay readable.
    ends.sort()
    placed: list[float] = []
    for end_y, end_x, text, color in ends:
        if placed and end_y - placed[-1] < 13:
            end_y = placed[-1] + 13
        placed.append(end_y)
        body.append(_text(end_x, end_y, text, fill=color))
    return _svg(cid, width, height, title, desc, body, "line")
