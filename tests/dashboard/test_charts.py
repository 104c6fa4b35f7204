"""Server-side SVG charts: accessible, escaped, scaled to the largest value."""

from __future__ import annotations

import re

from securellm.dashboard import charts


def test_bars_carry_a_title_and_a_description_of_every_figure() -> None:
    svg = charts.bars("c", "Spend per key", [("alpha", 2.0), ("beta", 1.0)], lambda v: f"${v}")
    assert svg.startswith('<svg class="chart" role="img" aria-labelledby="c-t c-d"')
    assert '<title id="c-t">Spend per key</title>' in svg
    assert '<desc id="c-d">alpha: $2.0; beta: $1.0</desc>' in svg


def test_the_largest_bar_is_full_width_and_the_others_in_proportion() -> None:
    svg = charts.bars("c", "t", [("a", 4.0), ("b", 1.0), ("c", 0.0)])
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([0-9.]+)"', svg)]
    assert widths == [charts.BAR_WIDTH, charts.BAR_WIDTH / 4, 0.0]


def test_labels_are_escaped() -> None:
    svg = charts.bars("c", "<t>", [("<script>x</script>", 1.0)])
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg and "&lt;t&gt;" in svg


def test_no_items_draw_no_chart() -> None:
    assert charts.bars("c", "t", []) == ""
    assert charts.series("c", "t", [], ("", "")) == ""


def test_a_series_draws_its_first_line_as_an_area_and_labels_both_ends() -> None:
    lines = [charts.Line("requests", [0, 2, 4], "chart-requests"),
             charts.Line("errors", [0, 1, 0], "chart-errors")]  # fmt: skip
    svg = charts.series("s", "Requests", lines, ("10:00", "11:00"))
    assert svg.count("<polygon") == 1 and svg.count("<polyline") == 2
    assert 'class="chart-requests chart-area"' in svg
    assert ">10:00</text>" in svg and ">11:00</text>" in svg
    top = re.search(r'class="chart-requests chart-line" points="([^"]+)"', svg)
    assert top is not None
    assert top.group(1).split()[-1] == f"{charts.SERIES_WIDTH:.1f},0.0"  # the peak at the top
