"""Table 1 and the figures from hand-made evaluation records and generated table1."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from paths import REPO

from hardpos.errors import DataError
from hardpos.report import figures, paper_comparison, statistics, table1


def _entry(error: float, n: int = 1000) -> dict:
    """An error entry as the evaluate stage writes it: error = wrong / n exactly."""
    wrong = round(error * n)
    return {"error": wrong / n, "n": n, "wrong": wrong}


def _record(path: Path, recipe: str, net: int, mnist: float, heldout: float, **extra) -> Path:
    record = {
        "recipe": recipe,
        "net": net,
        "parent_net": net,
        "train_images": extra.pop("train_images", 0),
        "mnist_test": _entry(mnist, 10000),
        "heldout": _entry(heldout),
        "heldout_own": _entry(extra.pop("own", heldout - 0.05)),
        "heldout_other": _entry(extra.pop("other", heldout + 0.05)),
        # per-type errors that differ from the overall one and from each other
        "heldout_by_type": {"FGS": _entry(heldout - 0.1), "HC-1": _entry(heldout + 0.1 * net)},
    }
    path.write_text(json.dumps(record))
    return path


@pytest.fixture
def evaluations(tmp_path: Path) -> list[Path]:
    paths = [_record(tmp_path / f"base{n}.json", "basic", n, 0.01 * n, 0.6) for n in (1, 2, 3)]
    paths += [
        _record(tmp_path / f"fgs{n}.json", "FGS", n, 0.008, 0.2 + 0.1 * n, train_images=100 * n)
        for n in (1, 2, 3)
    ]
    paths.append(_record(tmp_path / "aug.json", "InfiMNIST-style (2,000)", 1, 0.05, 0.4))
    return paths


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


def test_a_missing_evaluation_file_is_named(tmp_path):
    with pytest.raises(DataError, match="nowhere.json: no such evaluation record"):
        table1.load_evaluations([tmp_path / "nowhere.json"])


def test_a_paper_table_row_without_figures_is_named(tmp_path):
    path = tmp_path / "paper.yaml"
    path.write_text("rows:\n  - {paper: FGS, mnist: 0.79}\n")
    with pytest.raises(DataError, match=r"paper.yaml: row 1 lacks \['adversarial'\]"):
        paper_comparison.side_by_side(pd.DataFrame({"recipe": []}), path)


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


def _generated(n_sources: int = 3) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A generated table: FGS for every source, HC-1 only for sources 1 and 2."""
    rows, images = [], []
    originals = np.zeros((n_sources, 28, 28), np.uint8)
    for source in range(n_sources):
        for method, k in (("fgs", 0), ("hc-d", 1)):
            if method == "hc-d" and source == 0:
                continue
            rows.append(
                dict(source=source, label=source, method=method, k=k, factor=1.0,
                     success=True, adv_label=9, pass_=0.9, l2_per_pixel=0.5, linf=30.0)
            )  # fmt: skip
            images.append(np.full((1, 28, 28), 10 * len(rows), np.uint8))
    table = pd.DataFrame(rows).rename(columns={"pass_": "pass"})
    return table, np.stack(images), originals


def test_gallery_picks_the_first_image_with_every_type():
    table, images, originals = _generated()
    chosen = figures.pick_gallery(table, images, originals, types=["FGS", "HC-1"])
    assert chosen["label"] == 1  # source 0 has no HC-1
    assert [a[0, 0] for a in chosen["adversarials"]] == [20.0, 30.0]


def test_gallery_without_a_complete_image_says_which_types(tmp_path):
    table, images, originals = _generated()
    with pytest.raises(DataError, match="HC-2"):
        figures.pick_gallery(table, images, originals, types=["FGS", "HC-2"])


def test_figures_are_written_as_png_and_pdf(tmp_path):
    table, images, originals = _generated()
    outputs = []
    for name, draw in (("fig4", figures.figure4), ("fig5", figures.figure5)):
        png, pdf = tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"
        draw([table], str(png), str(pdf), types=["FGS", "HC-1"])
        outputs += [png, pdf]
    chosen = figures.pick_gallery(table, images, originals, types=["FGS", "HC-1"])
    figures.figure2(**chosen, out_png=str(tmp_path / "f2.png"), out_pdf=str(tmp_path / "f2.pdf"))
    outputs += [tmp_path / "f2.png", tmp_path / "f2.pdf"]
    for path in outputs:
        magic = b"\x89PNG" if path.suffix == ".png" else b"%PDF"
        assert path.read_bytes()[:4] == magic, path.name
    assert not list(tmp_path.glob("*.tmp"))


def test_figures_of_types_never_generated_say_so(tmp_path):
    table, _, _ = _generated()
    with pytest.raises(DataError, match="HC-5"):
        figures.figure5([table], str(tmp_path / "a.png"), str(tmp_path / "a.pdf"), types=["HC-5"])


# --- statistics: confidence intervals and Welch's tests against the controls ---------------


def test_welch_test_matches_a_hand_worked_case_with_two_degrees_of_freedom():
    # a = 1, 2, 3 (mean 2, s^2 = 1), b = 5, 5, 5 (no spread): t = -3 / sqrt(1/3), and the
    # Welch-Satterthwaite df is exactly n_a - 1 = 2, where the t distribution has the
    # closed form P(|T| > t) = 1 - t / sqrt(2 + t^2)
    test = statistics.welch_test([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    t = -3.0 * np.sqrt(3.0)
    assert test.diff == pytest.approx(-3.0)
    assert test.t == pytest.approx(t)
    assert test.df == pytest.approx(2.0)
    assert test.p == pytest.approx(1 - abs(t) / np.sqrt(2 + t**2), rel=1e-9)


def test_t_interval_matches_the_closed_form_for_three_values():
    # df = 2: the 0.975 quantile of t is 0.95 * sqrt(2 / (1 - 0.95^2))
    low, high = statistics.t_interval([1.0, 2.0, 3.0])
    half = 0.95 * np.sqrt(2 / (1 - 0.95**2)) * 1.0 / np.sqrt(3)
    assert (low, high) == pytest.approx((2 - half, 2 + half), rel=1e-12)


def test_welch_test_agrees_with_scipy_for_nine_nets_against_three():
    from scipy import stats as scipy_stats

    rng = np.random.default_rng(0)
    a, b = 0.7 + 0.05 * rng.standard_normal(9), 0.9 + 0.1 * rng.standard_normal(3)
    ours = statistics.welch_test(a, b)
    theirs = scipy_stats.ttest_ind(a, b, equal_var=False)
    assert ours.t == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.p == pytest.approx(theirs.pvalue, rel=1e-9)
    assert ours.df == pytest.approx(theirs.df, rel=1e-12)


def test_fewer_than_two_networks_give_no_interval_and_no_test():
    assert all(np.isnan(statistics.t_interval([0.8])))
    test = statistics.welch_test([0.8], [0.7, 0.9])
    assert test.diff == pytest.approx(0.0) and np.isnan(test.p)


@pytest.fixture
def with_clean(evaluations, tmp_path: Path) -> list[Path]:
    clean = [0.0085, 0.0080, 0.0075]  # FGS's three nets all sit at 0.008: no difference
    return evaluations + [
        _record(tmp_path / f"clean{n}.json", "clean", n, e, 0.5) for n, e in enumerate(clean, 1)
    ]


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


def _nets(recipe: str, errors: dict[tuple[int, int], float]) -> pd.DataFrame:
    rows = [
        {"recipe": recipe, "net": n, "order": o, "mnist_test": e} for (n, o), e in errors.items()
    ]
    return pd.DataFrame(rows)


def test_paired_test_matches_a_hand_worked_case_and_ignores_unmatched_nets():
    # differences 1, 2, 3 over the pairs (mean 2, s = 1): t = 2 sqrt(3), df = 2
    recipe = _nets("HC", {(1, 1): 11.0, (1, 2): 22.0, (2, 1): 33.0, (3, 3): 99.0})
    clean = _nets("clean", {(2, 1): 30.0, (1, 1): 10.0, (1, 2): 20.0, (3, 1): 5.0})
    test, pairs = statistics.paired_test(recipe, clean, "mnist_test")
    t = 2 * np.sqrt(3.0)
    assert pairs == 3  # (3, 3) and (3, 1) have no partner
    assert (test.diff, test.t, test.df) == (pytest.approx(2.0), pytest.approx(t), 2.0)
    assert test.p == pytest.approx(1 - t / np.sqrt(2 + t**2), rel=1e-9)


def test_paired_test_agrees_with_scipy_for_nine_pairs():
    from scipy import stats as scipy_stats

    rng = np.random.default_rng(1)
    keys = [(n, o) for n in (1, 2, 3) for o in (1, 2, 3)]
    parent = {k: 0.8 + 0.1 * k[0] for k in keys}  # the parent moves both recipes alike
    a = {k: parent[k] + 0.02 + 0.01 * rng.standard_normal() for k in keys}
    b = {k: parent[k] + 0.01 * rng.standard_normal() for k in keys}
    test, pairs = statistics.paired_test(_nets("HC", a), _nets("clean", dict(reversed(b.items()))),
                                     "mnist_test")  # fmt: skip
    theirs = scipy_stats.ttest_rel([a[k] for k in keys], [b[k] for k in keys])
    assert pairs == 9
    assert test.t == pytest.approx(theirs.statistic, rel=1e-12)
    assert test.p == pytest.approx(theirs.pvalue, rel=1e-9)
    # the unpaired test sees the parents' spread as noise and cannot tell them apart
    assert statistics.welch_test(list(a.values()), list(b.values())).p > 0.05 > test.p


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


def test_two_records_of_one_net_and_ordering_are_named_not_paired():
    recipe = pd.concat([_nets("HC", {(1, 1): 1.0}), _nets("HC", {(1, 1): 2.0})])
    with pytest.raises(DataError, match=r"two evaluation records .*'net': 1, 'order': 1"):
        statistics.paired_test(recipe, _nets("clean", {(1, 1): 1.0}), "mnist_test")


def test_paired_test_needs_net_and_order_on_both_sides():
    recipe = _nets("HC", {(1, 1): 1.0, (1, 2): 2.0})
    test, pairs = statistics.paired_test(recipe, recipe.drop(columns="order"), "mnist_test")
    assert pairs == 0 and np.isnan(test.p)  # no KeyError from deep inside pandas


def test_intervals_of_error_rates_are_clipped_to_what_a_rate_can_be(tmp_path):
    """MNIST errors of 0.1, 0.1 and 3 % give a t interval reaching below zero."""
    paths = [_record(tmp_path / f"n{n}.json", "FGS", n, m, 0.3) for n, m in
             enumerate((0.001, 0.001, 0.03), start=1)]  # fmt: skip
    table = table1.table1(table1.load_evaluations(paths), recipe_order=["FGS"])
    low, high = statistics.t_interval([0.1, 0.1, 3.0])
    assert low < 0
    row = table.iloc[0]
    assert row["mnist_test_ci_low"] == 0.0 and row["mnist_test_ci_high"] == pytest.approx(high)


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
