"""hardpos.report.paper_comparison: our Table 1 beside the paper's, row by row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from paths import REPO

from hardpos.errors import DataError
from hardpos.report import paper_comparison, table1

from .conftest import _record


def test_side_by_side_pairs_rows_by_name_and_glob_and_keeps_the_unmatched(evaluations):
    ours = table1.table1(table1.load_evaluations(evaluations))
    both = paper_comparison.side_by_side(ours, REPO / "config" / "paper_table1.yaml")
    pairs = dict(zip(both["paper"], both["ours"], strict=True))
    assert pairs["Basic LeNet"] == "basic"
    assert pairs["InfiMNIST (1M)"] == "InfiMNIST-style (2,000)"
    assert pairs["HC-D-9"] == ""  # no such row of ours: kept, blank opposite
    basic = both[both["ours"] == "basic"].iloc[0]
    assert basic["paper_mnist"] == pytest.approx(0.937)
    assert basic["paper_adversarial"] == pytest.approx(64.21)


def test_a_paper_table_row_without_figures_is_named(tmp_path):
    path = tmp_path / "paper.yaml"
    path.write_text("rows:\n  - {paper: FGS, mnist: 0.79}\n")
    with pytest.raises(DataError, match=r"paper.yaml: row 1 lacks \['adversarial'\]"):
        paper_comparison.side_by_side(pd.DataFrame({"recipe": []}), path)


def test_side_by_side_tests_the_papers_rows_against_its_basic_lenet(with_clean):
    ours = table1.table1(table1.load_evaluations(with_clean))
    paper = REPO / "config" / "paper_table1.yaml"
    both = paper_comparison.side_by_side(ours, paper).set_index("paper")
    # HC-D-9-1.05: 0.673 +- 0.035 over 9 nets against 0.937 +- 0.110 over 3, by hand
    va, vb = 0.035**2 / 9, 0.110**2 / 3
    t = (0.673 - 0.937) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 8 + vb**2 / 2)
    from scipy import stats as scipy_stats

    expected = 2 * scipy_stats.t.sf(abs(t), df)
    assert both.loc["HC-D-9-1.05", "paper_mnist_vs_basic_p"] == pytest.approx(expected)
    assert np.isnan(both.loc["Basic LeNet", "paper_mnist_vs_basic_p"])
    assert both.loc["FGS", "ours_mnist_vs_clean_p"] == pytest.approx(1.0)


def test_a_row_held_out_on_its_own_parents_adversarials_only_says_so(tmp_path):
    """With one base net the held-out set is that net's adversarials alone: the row's
    held-out error is its own parent's, not a mix (the InfiMNIST-style net has no parent)."""
    none = {"error": float("nan"), "n": 0, "wrong": 0}
    paths = [
        _record(tmp_path / "base.json", "basic", 1, 0.01, 0.8, own=0.8),
        _record(tmp_path / "fgs.json", "FGS", 1, 0.01, 0.3, own=0.3),
        _record(tmp_path / "aug.json", "InfiMNIST-style (2,000)", 1, 0.01, 0.4),
    ]
    for path in paths[:2]:
        record = json.loads(path.read_text())
        path.write_text(json.dumps(record | {"heldout_other": none}))
    record = json.loads(paths[2].read_text())
    paths[2].write_text(json.dumps(record | {"heldout_own": none, "heldout_other": none}))
    table = table1.table1(table1.load_evaluations(paths), recipe_order=["basic", "FGS"])
    assert table["heldout_own_only"].tolist() == [True, True, False]
    csv, md, tex = tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex"
    table1.write_table1(table, csv, md, tex)
    rows = {line.split("|")[1].strip(): line for line in md.read_text().splitlines()[2:]}
    assert "30.00% (own parent's only)" in rows["FGS"]
    assert "own parent's only" not in rows["InfiMNIST-style (2,000)"]
    assert "own parent's only: a run with one base net" in tex.read_text()
    paper = tmp_path / "paper.yaml"
    paper.write_text("rows:\n  - {paper: FGS, ours: FGS, mnist: 0.9, adversarial: 20.0}\n")
    both = paper_comparison.side_by_side(table, paper)
    paper_comparison.write_side_by_side(both, tmp_path / "b.csv", tmp_path / "b.md")
    assert "30.00% (own parent's only)" in (tmp_path / "b.md").read_text()
