"""What report.html shows: tables as HTML pages, and the figures' keys, legends and bars."""

from __future__ import annotations

import math
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from hardpos.errors import DataError
from hardpos.report import figures
from hardpos.report.stage_outputs import markdown_rows, table_html


class _Cells(HTMLParser):
    """The text of every <th>/<td> of a page, row by row, and each <td>'s class."""

    def __init__(self):
        super().__init__()
        self.rows, self.classes, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
            self.classes.append([])
        elif tag in ("th", "td"):
            self._cell = ""
            self.classes[-1].append(dict(attrs).get("class"))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("th", "td"):
            self.rows[-1].append(self._cell)
            self._cell = None


def test_markdown_table_becomes_the_same_cells_in_html():
    frame = pd.DataFrame(
        {
            "Method": ["basic", "HC-D-9 <x>"],
            "Networks": [3, 9],
            "MNIST": ["0.937% ± 0.110", "0.683% ± 0.057"],
            "Other nets'": ["–", "12.50%"],
        }
    )
    page = table_html(frame.to_markdown(index=False), title="Table 1", caption="what & why")
    parser = _Cells()
    parser.feed(page)
    assert parser.rows == [list(frame.columns), *frame.astype(str).values.tolist()]
    # numbers (with ± and %, or a dash for none) right-aligned, names not
    assert parser.classes[1] == [None, "number", "number", "number"]
    assert "<title>Table 1</title>" in page and "what &amp; why" in page
    assert "HC-D-9 &lt;x&gt;" in page  # escaped, not markup


def test_markdown_rows_refuse_what_is_not_a_table():
    with pytest.raises(DataError, match="Markdown table"):
        markdown_rows("no table here\n")
    with pytest.raises(DataError, match="row 1 has 3 cells, header 2"):
        markdown_rows("| a | b |\n|---|---|\n| 1 | 2 | 3 |\n")


def test_figure6_bars_are_one_sample_standard_deviation():
    low, high = figures.mean_pm_sample_std(pd.Series([1.0, 2.0, 4.0]))
    mean, std = 7 / 3, math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)
    assert math.isclose(low, mean - std) and math.isclose(high, mean + std)
    assert not math.isclose(high - mean, float(np.std([1.0, 2.0, 4.0])))  # not ddof 0
    assert figures.mean_pm_sample_std(pd.Series([0.8])) == (0.8, 0.8)  # one net: no bar


def _typed_rows() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    types = ["FGS", "FGV", "HC-1", "HC-2", "HC-1x1.05", "HC-S-1"]
    return pd.DataFrame(
        {
            "type": np.repeat(types, 20),
            "pass": rng.uniform(0.95, 1.0, 120),  # bars near the top, where a legend sat
            "l2_per_pixel": rng.uniform(0.5, 1.0, 120),
            "linf": rng.uniform(50, 200, 120),
        }
    )


def test_figure5_legend_is_beside_the_bars_and_the_x_axis_is_named():
    figure = figures.figure5_figure(_typed_rows())
    (axes,) = figure.axes
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = axes.get_legend().get_window_extent(renderer)
    assert legend.x0 >= axes.get_window_extent(renderer).x1  # right of the axes
    assert "adversarial type" in axes.get_xlabel()
    figures.plt.close(figure)


def test_figure2_has_a_key_for_the_tuple_and_no_empty_cell():
    original = np.zeros((28, 28))
    adversarials = [np.full((28, 28), 10.0), np.full((28, 28), 20.0)]
    rows = [pd.Series({"adv_label": 3, "pass": 0.9, "l2_per_pixel": 0.5, "linf": 10.0})] * 2
    figure = figures.figure2_figure(
        original=original, label=7, adversarials=adversarials, rows=rows, types=["FGS", "FGV"]
    )
    under_original = figure.axes[3]  # row 2, column 1 of the 2 x 3 grid
    texts = " ".join(t.get_text() for t in under_original.texts)
    assert "PASS x 1000" in texts and "L2 norm per pixel" in texts and "L-inf" in texts
    for ax in figure.axes:  # every cell shows an image or the key
        assert ax.images or ax.texts
    assert figure.axes[4].get_xlabel() == "(900, 0.50, 10)"
    figures.plt.close(figure)
