"""hardpos.report.stage_outputs: markdown tables as the HTML report shows them."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest

from hardpos.errors import DataError
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
