"""SVG charts: well-formed XML, accessible, escaped, deterministic, figures shown as given."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest

from caudal.portfolio import charts

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314  (our own output, the test parses it)
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby", "").split()
    ids = {el.get("id"): el for el in root.iter() if el.get("id")}
    assert ids[title_id].tag == f"{NS}title"
    assert ids[desc_id].tag == f"{NS}desc"
    return root


def texts(root: ET.Element) -> list[str]:
    return [el.text or "" for el in root.iter(f"{NS}text")]


def marks(root: ET.Element, tag: str = "rect") -> list[ET.Element]:
    """Marks that carry a tooltip (data marks, not legend swatches)."""
    return [el for el in root.iter(f"{NS}{tag}") if el.find(f"{NS}title") is not None]


def num(el: ET.Element, name: str) -> float:
    return float(el.get(name, "nan"))


def tip(el: ET.Element) -> str:
    t = el.find(f"{NS}title")
    assert t is not None
    return t.text or ""


def desc(root: ET.Element) -> str:
    d = root.find(f"{NS}desc")
    assert d is not None
    return d.text or ""


def hrefs(root: ET.Element) -> list[str]:
    return [a.get("href", "") for a in root.iter(f"{NS}a")]


STAGES = [("Corriente", 120_000), ("Prejurídica", 45_500), ("Persuasiva", 9_000)]


def test_group_and_compact_numbers():
    assert charts.group_number(0) == "0"
    assert charts.group_number(1234567) == "1.234.567"
    assert charts.group_number(-1000, ",") == "-1,000"
    assert charts.compact_number(950) == "950"
    assert charts.compact_number(12_500) == "12,5 mil"
    assert charts.compact_number(3_000_000) == "3 M"
    assert charts.compact_number(3_449_999) == "3,4 M"
    assert charts.compact_number(3_450_000) == "3,5 M"
    assert charts.compact_number(-1_200_000_000) == "-1,2 mil M"


@pytest.mark.parametrize(
    ("low", "high"), [(0, 0), (0, 7), (0, 99), (0, 101), (-50, 200), (3, 3), (0, 987_654_321)]
)
def test_nice_ticks_cover_the_range_with_round_steps(low, high):
    ticks = charts.nice_ticks(low, high)
    assert ticks[0] <= min(low, 0) or ticks[0] <= low
    assert ticks[-1] >= high
    steps = {b - a for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1
    step = steps.pop()
    assert str(step).rstrip("0") in {"1", "2", "5"}
    assert len(ticks) <= 12


@pytest.mark.parametrize("horizontal", [False, True])
def test_bar_chart_shows_given_labels_and_links(horizontal):
    svg = charts.bar_chart(
        STAGES,
        title="Valor por etapa",
        value_labels=["S/ 1.200,00", "S/ 455,00", "S/ 90,00"],
        hrefs=["/d?stage=corriente", None, "/d?stage=persuasiva&x=1"],
        horizontal=horizontal,
    )
    root = parse(svg)
    shown = texts(root)
    for label in ("S/ 1.200,00", "S/ 455,00", "S/ 90,00", "Corriente", "Prejurídica"):
        assert label in shown
    bars = marks(root)
    assert len(bars) == 3
    size = "width" if horizontal else "height"
    lengths = [num(b, size) for b in bars]
    # bars are proportional to the values (within rounding to 0.1 px)
    assert lengths[0] > lengths[1] > lengths[2] > 0
    assert lengths[1] / lengths[0] == pytest.approx(45_500 / 120_000, rel=0.01)
    links = hrefs(root)
    assert links == ["/d?stage=corriente", "/d?stage=persuasiva&x=1"]
    assert "Corriente: S/ 1.200,00" in desc(root)


def test_bar_chart_negative_value_goes_below_zero_line():
    root = parse(charts.bar_chart([("A", 100), ("B", -40)], title="Saldo"))
    a, b = marks(root)
    assert a.get("fill") != b.get("fill")
    # B starts at the zero line (where A ends) and goes down
    assert num(b, "y") == pytest.approx(num(a, "y") + num(a, "height"), abs=0.2)


def test_text_is_escaped_and_output_deterministic():
    data = [('<script>alert("x")</script>', 5), ("A & B", 3)]
    one = charts.bar_chart(data, title="T <b> & 'q'", hrefs=['/x?a=1&b="2"', None])
    two = charts.bar_chart(data, title="T <b> & 'q'", hrefs=['/x?a=1&b="2"', None])
    assert one == two
    assert "<script>" not in one
    root = parse(one)
    assert tip(root) == "T <b> & 'q'"
    assert hrefs(root) == ['/x?a=1&b="2"']
    other = charts.bar_chart([("A", 1)], title="T")
    assert parse(other).get("id") != root.get("id")
    assert parse(charts.bar_chart([("A", 1)], title="T", chart_id="stage")).get("id") == "stage"


def test_empty_charts_say_no_data():
    for svg in (
        charts.bar_chart([], title="Nada"),
        charts.stacked_bar_chart([], [], title="Nada"),
        charts.pyramid_chart([], title="Nada", left_title="Cuentas", right_title="Valor"),
        charts.line_chart(["2025-01"], [("Saldo", [None])], title="Nada"),
    ):
        root = parse(svg)
        assert "Sin datos" in texts(root)


def test_label_count_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 labels for 3 values"):
        charts.bar_chart(STAGES, title="x", value_labels=["a", "b"])
    with pytest.raises(ValueError, match="has 1 values"):
        charts.stacked_bar_chart(["a", "b"], [("s", [1])], title="x")
    with pytest.raises(ValueError, match="negative"):
        charts.stacked_bar_chart(["a"], [("s", [-1])], title="x")


@pytest.mark.parametrize("horizontal", [False, True])
def test_stacked_bars_segments_add_up_to_the_total(horizontal):
    cats = ["Zona 1", "Zona 2"]
    series = [("Vigente", [100, 50]), ("Vencido", [300, 0]), ("Bloqueado", [0, 25])]
    root = parse(
        charts.stacked_bar_chart(
            cats,
            series,
            title="Cartera por zona",
            total_labels=["S/ 4,00", "S/ 0,75"],
            hrefs=[["/a", "/b"], ["/c", "/d"], ["/e", "/f"]],
            horizontal=horizontal,
        )
    )
    segs = marks(root)
    assert len(segs) == 4  # zero segments are not drawn
    size = "width" if horizontal else "height"
    tips = {tip(s): num(s, size) for s in segs}
    z1 = [v for k, v in tips.items() if k.startswith("Zona 1")]
    z2 = [v for k, v in tips.items() if k.startswith("Zona 2")]
    assert sum(z2) / sum(z1) == pytest.approx(75 / 400, rel=0.02)
    assert "S/ 4,00" in texts(root) and "S/ 0,75" in texts(root)
    assert {"Vigente", "Vencido", "Bloqueado"} <= set(texts(root))  # legend
    assert sorted(hrefs(root)) == ["/a", "/b", "/c", "/f"]


def test_pyramid_has_each_bucket_both_sides_youngest_at_bottom():
    rows = [("0", 500, 1_000_000), ("1-30", 300, 800_000), (">360", 50, 2_000_000)]
    root = parse(
        charts.pyramid_chart(
            rows,
            title="Pirámide de edades",
            left_title="Cuentas",
            right_title="Valor",
            right_labels=["S/ 10.000,00", "S/ 8.000,00", "S/ 20.000,00"],
            right_hrefs=["/r0", "/r1", "/r2"],
        )
    )
    bars = marks(root)
    assert len(bars) == 6
    by_tip = {tip(b): b for b in bars}
    left0 = by_tip["0 · Cuentas: 500"]
    left_old = by_tip[">360 · Cuentas: 50"]
    right_old = by_tip[">360 · Valor: S/ 20.000,00"]
    assert num(left0, "y") > num(left_old, "y")  # youngest lower on the page
    assert num(left0, "width") == pytest.approx(10 * num(left_old, "width"), rel=0.01)
    # left bars end at the centre column, right bars start after it
    assert num(left0, "x") + num(left0, "width") < num(right_old, "x")
    assert "S/ 20.000,00" in texts(root)
    assert len(list(root.iter(f"{NS}a"))) == 3


def test_line_chart_two_series_with_gap():
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    billed = [1000 + 10 * i for i in range(12)]
    collected: list[int | None] = [900 + 5 * i for i in range(12)]
    collected[5] = None
    root = parse(
        charts.line_chart(
            months,
            [("Facturado", billed), ("Recaudado", collected)],
            title="Recaudado vs facturado",
            hrefs=[f"/m/{m}" for m in months],
        )
    )
    lines = list(root.iter(f"{NS}polyline"))
    assert len(lines) == 3  # billed whole, collected split by the gap
    assert len(marks(root, "circle")) == 23
    assert "1.110" in texts(root) and "955" in texts(root)  # last values labelled
    assert "2025-06: Facturado 1.050;" in desc(root)  # the gap month lists only the billed figure
    assert {"Facturado", "Recaudado"} <= set(texts(root))


def test_line_chart_single_point_and_negative_values():
    root = parse(charts.line_chart(["2025-01"], [("Saldo", [-500])], title="Saldo"))
    assert len(marks(root, "circle")) == 1
    root = parse(charts.line_chart(["a", "b"], [("Saldo", [-500, 200])], title="Saldo"))
    assert "-500" in desc(root)
