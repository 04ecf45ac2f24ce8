"""hardpos.report.table1: Table 1 from hand-made evaluation records, its files, its tests
against clean and basic, and its robustness columns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hardpos.errors import DataError
from hardpos.report import statistics, table1

from .conftest import _record


def test_table1_gains_robustness_columns_averaged_over_a_recipes_nets(tmp_path):

    from hardpos.report.table1 import _display, load_evaluations, table1

    evaluations, records = [], []
    cases = [("basic", 0.010, [0.6, 0.0], 90.0, 20.0), ("PGD-AT", 0.012, [0.9, 0.7], 300.0, 60.0),
             ("PGD-AT", 0.014, [0.8, 0.5], 280.0, 56.0)]  # fmt: skip
    for i, (recipe, error, robust, l2, linf) in enumerate(cases):
        model = f"results/models/m{i}.pt"
        evaluations.append(tmp_path / f"e{i}.json")
        evaluations[-1].write_text(
            json.dumps(
                {
                    "model": model,
                    "recipe": recipe,
                    "mnist_test": {"error": error, "n": 1000, "wrong": round(error * 1000)},
                }
            )
        )
        records.append(tmp_path / f"r{i}.json")
        records[-1].write_text(
            json.dumps(
                {
                    "model": model, "recipe": recipe, "linf": [0.1, 0.3],
                    "clean_accuracy": 1 - error, "robust_accuracy": robust,
                    "min_norm": {"median_l2": l2, "median_linf": linf},
                }
            )
        )  # fmt: skip
    table = table1(load_evaluations(evaluations, robustness=records), recipe_order=["basic"])
    pgd = table.set_index("recipe").loc["PGD-AT"]
    assert pgd["robust_0.3_mean"] == pytest.approx(60.0)
    assert pgd["robust_0.3_std"] == pytest.approx(np.std([70.0, 50.0], ddof=1))
    assert pgd["min_l2_mean"] == pytest.approx(290.0)
    shown = _display(table).set_index("Method")
    assert shown.loc["basic", "Robust L-inf 0.3"] == "0.0%"
    assert shown.loc["PGD-AT", "Robust L-inf 0.1"] == "85.0% ± 7.1"
    assert shown.loc["PGD-AT", "Min. L2 / L-inf (grey)"] == "290 / 58.0"
    # without records, Table 1 is as before
    assert "Robust L-inf 0.3" not in _display(table1(load_evaluations(evaluations))).columns


def test_table1_averages_each_recipes_networks_with_sample_std(evaluations):
    table = table1.table1(table1.load_evaluations(evaluations), recipe_order=["basic", "FGS"])
    assert list(table["recipe"]) == ["basic", "FGS", "InfiMNIST-style (2,000)"]
    basic = table.iloc[0]
    assert basic["networks"] == 3
    assert basic["mnist_test_mean"] == pytest.approx(2.0)  # (1 + 2 + 3) / 3 percent
    assert basic["mnist_test_std"] == pytest.approx(1.0)  # sample std of 1, 2, 3
    fgs = table.iloc[1]
    assert fgs["heldout_mean"] == pytest.approx(40.0)
    assert fgs["added_images"] == 200
    assert np.isnan(table.iloc[2]["mnist_test_std"])  # one network: no spread


def test_table1_files_carry_every_row_in_each_format(evaluations, tmp_path):
    table = table1.table1(table1.load_evaluations(evaluations), recipe_order=["basic", "FGS"])
    csv, md, tex = tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex"
    table1.write_table1(table, csv, md, tex)
    assert pd.read_csv(csv)["mnist_test_mean"].round(3).tolist() == [2.0, 0.8, 5.0]
    assert "| basic" in md.read_text() and "2.000% ± 1.000" in md.read_text()
    assert r"2.000\% $\pm$ 1.000" in tex.read_text() and r"\toprule" in tex.read_text()


def test_a_missing_evaluation_file_is_named(tmp_path):
    with pytest.raises(DataError, match="nowhere.json: no such evaluation record"):
        table1.load_evaluations([tmp_path / "nowhere.json"])


def test_heldout_by_type_is_the_mean_over_a_recipes_networks(evaluations):
    """Catches: a type column filled from the overall error or from another type, a mean
    over the wrong networks. FGS nets: overall 30, 40, 50 %; FGS 10 points lower, HC-1
    10 * net points higher."""
    by_type = table1.heldout_type_table(table1.load_evaluations(evaluations)).set_index("recipe")
    assert by_type.loc["FGS", "FGS"] == pytest.approx(30.0)
    assert by_type.loc["FGS", "HC-1"] == pytest.approx(60.0)  # (40 + 60 + 80) / 3
    assert by_type.loc["basic", "FGS"] == pytest.approx(50.0)
    assert by_type.loc["basic", "HC-1"] == pytest.approx(80.0)  # (70 + 80 + 90) / 3


def test_table1_own_and_other_columns_read_their_own_errors(evaluations):
    """Catches: own and other parent's errors swapped or read from the overall error."""
    table = table1.table1(table1.load_evaluations(evaluations), recipe_order=["basic", "FGS"])
    fgs = table.set_index("recipe").loc["FGS"]
    assert fgs["heldout_mean"] == pytest.approx(40.0)
    assert fgs["heldout_own_mean"] == pytest.approx(35.0)
    assert fgs["heldout_other_mean"] == pytest.approx(45.0)


def test_table1_tests_each_recipe_against_clean_and_basic(with_clean):
    evals = table1.load_evaluations(with_clean)
    table = table1.table1(evals, recipe_order=["basic", "clean", "FGS"]).set_index("recipe")
    fgs = table.loc["FGS"]
    group = {r: evals.loc[evals["recipe"] == r] for r in ("basic", "clean", "FGS")}
    expected = statistics.welch_test(group["FGS"]["mnist_test"], group["clean"]["mnist_test"])
    assert fgs["mnist_test_vs_clean_p"] == pytest.approx(expected.p)
    assert fgs["mnist_test_vs_clean_diff"] == pytest.approx(0.0, abs=1e-12)  # 0.8 vs 0.8
    assert fgs["mnist_test_vs_basic_diff"] == pytest.approx(0.8 - 2.0)
    # held-out: FGS 30, 40, 50 % against basic's 60, 60, 60 (no spread: df = 2)
    t = -20.0 / np.sqrt(100.0 / 3)
    assert fgs["heldout_vs_basic_p"] == pytest.approx(1 - abs(t) / np.sqrt(2 + t**2))
    assert np.isnan(table.loc["clean", "mnist_test_vs_clean_p"])  # not tested against itself
    assert np.isnan(table.loc["basic", "heldout_vs_basic_p"])
    one_net = table.loc["InfiMNIST-style (2,000)"]
    assert np.isnan(one_net["mnist_test_ci_low"]) and np.isnan(one_net["mnist_test_vs_clean_p"])
    low, high = statistics.t_interval(group["basic"]["mnist_test"])
    assert (table.loc["basic", "mnist_test_ci_low"], table.loc["basic", "mnist_test_ci_high"]) == (
        pytest.approx(max(low, 0.0)),  # an error rate's interval stops at 0
        pytest.approx(high),
    )


def test_a_row_no_different_from_clean_says_so_in_every_format(with_clean, tmp_path):
    table = table1.table1(table1.load_evaluations(with_clean), recipe_order=["basic", "clean"])
    csv, md, tex = tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex"
    table1.write_table1(table, csv, md, tex)
    columns = pd.read_csv(csv).columns
    for key in ("mnist_test", "heldout"):
        assert {f"{key}_ci_low", f"{key}_vs_clean_p", f"{key}_vs_basic_diff"} <= set(columns)
    fgs_line = next(line for line in md.read_text().splitlines() if line.startswith("| FGS"))
    assert "+0.000 (p=1.000) n.s." in fgs_line  # MNIST vs clean
    assert "MNIST vs clean" in md.read_text() and "Held-out 95% CI" in md.read_text()
    assert "n.s." in tex.read_text() and "Welch" in tex.read_text()
    assert r"MNIST 95\% CI" in tex.read_text()  # an unescaped % would end the LaTeX line


def test_table1_shows_the_paired_comparison_with_clean(with_clean, tmp_path):
    evals = table1.load_evaluations(with_clean)
    table = table1.table1(evals, recipe_order=["basic", "clean", "FGS"]).set_index("recipe")
    group = {r: evals.loc[evals["recipe"] == r] for r in ("clean", "FGS")}
    expected, pairs = statistics.paired_test(group["FGS"], group["clean"], "heldout")
    assert pairs == 3 and table.loc["FGS", "heldout_vs_clean_pairs"] == 3
    assert table.loc["FGS", "heldout_vs_clean_paired_p"] == pytest.approx(expected.p)
    assert np.isnan(table.loc["clean", "heldout_vs_clean_paired_p"])
    md = tmp_path / "t.md"
    table1.write_table1(table.reset_index(), tmp_path / "t.csv", md, tmp_path / "t.tex")
    assert "Held-out vs clean, paired" in md.read_text()


def test_intervals_of_error_rates_are_clipped_to_what_a_rate_can_be(tmp_path):
    """MNIST errors of 0.1, 0.1 and 3 % give a t interval reaching below zero."""
    paths = [_record(tmp_path / f"n{n}.json", "FGS", n, m, 0.3) for n, m in
             enumerate((0.001, 0.001, 0.03), start=1)]  # fmt: skip
    table = table1.table1(table1.load_evaluations(paths), recipe_order=["FGS"])
    low, high = statistics.t_interval([0.1, 0.1, 3.0])
    assert low < 0
    row = table.iloc[0]
    assert row["mnist_test_ci_low"] == 0.0 and row["mnist_test_ci_high"] == pytest.approx(high)
