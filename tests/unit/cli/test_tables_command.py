"""hardpos tables: a run's evaluation records, read into Table 1 by the command line."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
from paths import REPO
from scipy import stats

from hardpos.cli import main

PAPER = REPO / "config" / "paper_table1.yaml"


def _entry(error: float, n: int) -> dict:
    wrong = round(error * n)
    return {"error": wrong / n, "n": n, "wrong": wrong}


def _record(results: Path, model_id: str, recipe: str, net: int, mnist: float, heldout: float):
    path = results / "eval" / f"{model_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "model": f"{results}/models/{model_id}.pt", "recipe": recipe, "net": net,
        "train_images": 0 if recipe == "basic" else 1000,
        "mnist_test": _entry(mnist / 100, 10000),
        "heldout": _entry(heldout / 100, 700),
        "heldout_by_type": {"FGS": _entry(heldout / 100, 700)},
    }  # fmt: skip
    path.write_text(json.dumps(record))


def test_tables_from_records_in_the_given_order_with_the_welch_test(tmp_path, capsys):
    results = tmp_path / "results"
    basic = [0.95, 0.85, 1.0]
    fgs = [0.70, 0.75, 0.72]
    for net, (b, f) in enumerate(zip(basic, fgs, strict=True), start=1):
        _record(results, f"base/net{net}", "basic", net, b, 60.0 + net)
        _record(results, f"finetune/FGS/net{net}-order1", "FGS", net, f, 20.0 + net)
    out = tmp_path / "tables"
    assert main(["tables", str(results), "--out", str(out), "--paper", str(PAPER)]) == 0
    assert "6 evaluation and 0 robustness records" in capsys.readouterr().out
    table = pd.read_csv(out / "table1.csv")
    assert list(table["recipe"]) == ["basic", "FGS"]
    fgs_row = table.set_index("recipe").loc["FGS"]
    assert fgs_row["networks"] == 3
    expected = stats.ttest_ind(fgs, basic, equal_var=False).pvalue
    assert abs(fgs_row["mnist_test_vs_basic_p"] - expected) < 1e-9
    for name in ("table1.md", "table1.tex", "table1_vs_paper.md", "heldout_by_type.md"):
        assert (out / name).stat().st_size > 0


def test_tables_without_records_or_paper_name_what_is_missing(tmp_path, capsys):
    assert main(["tables", str(tmp_path), "--out", str(tmp_path / "t"), "--paper", str(PAPER)]) == 2
    assert "no evaluation records" in capsys.readouterr().err
    _record(tmp_path, "base/net1", "basic", 1, 1.0, 50.0)
    missing = tmp_path / "nope.yaml"
    assert (
        main(["tables", str(tmp_path), "--out", str(tmp_path / "t"), "--paper", str(missing)]) == 2
    )
    assert f"--paper {missing}: no such file" in capsys.readouterr().err


def test_tables_work_from_any_folder_and_refuse_an_order_row_without_records(
    tmp_path, capsys, monkeypatch
):
    results = tmp_path / "results"
    _record(results, "base/net1", "basic", 1, 1.0, 50.0)
    _record(results, "finetune/FGS/net1-order1", "FGS", 1, 0.8, 20.0)
    monkeypatch.chdir(tmp_path)  # no config/ here: the default --paper is the checkout's
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one net a row: no numpy warning on the way
        assert main(["tables", "results", "--out", "t"]) == 0
    assert (tmp_path / "t" / "table1_vs_paper.md").is_file()
    assert main(["tables", "results", "--out", "t", "--order", "basic,FGV"]) == 2
    assert "--order FGV: no record of such a recipe; the records hold FGS, basic" in (
        capsys.readouterr().err
    )
