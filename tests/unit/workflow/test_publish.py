"""make publish: a run's results made into a folder the repository can hold, refused
while the run is unfinished or unrecorded, and swapped in whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from paths import REPO

from hardpos.errors import InputError
from hardpos.workflow.provenance import record_run
from hardpos.workflow.publish import main, publish

PAPER = REPO / "config" / "paper_table1.yaml"
CONFIG = PAPER.with_name("config.yaml")
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _record(results: Path, model_id: str, recipe: str, net: int, mnist: float) -> Path:
    path = results / "eval" / f"{model_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "model": f"{results}/models/{model_id}.pt", "recipe": recipe, "net": net,
        "train_images": 0 if recipe == "basic" else 1000,
        "mnist_test": {"error": round(mnist * 100) / 1e4, "n": 10000, "wrong": round(mnist * 100)},
        "heldout": {"error": 210 / 700, "n": 700, "wrong": 210},
        "heldout_by_type": {"FGS": {"error": 210 / 700, "n": 700, "wrong": 210}},
    }))  # fmt: skip
    return path


def small_config(results: Path, recipes=("FGS",)) -> dict:
    """config/config.yaml cut to the models _run makes: 2 base nets, 1 order, no extras."""
    config = yaml.safe_load(CONFIG.read_text())
    config.update(results=str(results), recipes=[{"name": r, "method": r.lower()} for r in recipes])
    config["base"]["seeds"] = [1, 2]
    config["finetune"]["orders"] = [1]
    config["buckets"]["enabled"] = False
    config["infimnist"]["enabled"] = False
    return config


def _run(tmp_path: Path, *, finished: bool = True, recorded: bool = True) -> Path:
    """A small run's results: 2 base nets, 2 FGS nets, a figure, a benchmark file, the
    run's Table 1 (when finished) and its start record (when recorded)."""
    results = tmp_path / "results"
    for net, (b, f) in enumerate([(0.9, 0.7), (1.0, 0.8)], start=1):
        _record(results, f"base/net{net}", "basic", net, b)
        _record(results, f"finetune/FGS/net{net}-order1", "FGS", net, f)
    (results / "figures").mkdir()
    (results / "figures" / "fig4.png").write_bytes(b"\x89PNG not really")
    bench = results / "benchmarks" / "finetune" / "FGS-net1-order1.tsv"
    bench.parent.mkdir(parents=True)
    bench.write_text(HEADER + "100.0\t0:01:40\t900\t1\t1\t1\t0\t0\t90.0\t90\n")
    if finished:
        (results / "tables").mkdir()
        (results / "tables" / "table1.csv").write_text("recipe\nbasic\n")
    if recorded:
        record_run(small_config(results), tmp_path)
    return results


def test_a_finished_run_is_published_with_its_records_and_index(tmp_path: Path):
    out = publish(_run(tmp_path), tmp_path / "docs" / "paper", paper=PAPER)
    table = pd.read_csv(out / "table1.csv")
    assert list(table["recipe"]) == ["basic", "FGS"]  # the recorded config's order
    assert table.set_index("recipe").loc["FGS", "networks"] == 2
    for name in ("table1.md", "table1_vs_paper.md", "heldout_by_type.md", "costs.md"):
        assert (out / name).stat().st_size > 0
    assert (out / "figures" / "fig4.png").read_bytes() == b"\x89PNG not really"
    assert json.loads((out / "eval" / "finetune" / "FGS" / "net2-order1.json").read_text())
    assert yaml.safe_load((out / "config.yaml").read_text())["recipes"][0]["name"] == "FGS"
    (run,) = list((out / "runs").glob("*.yaml"))
    assert yaml.safe_load(run.read_text())["commit"] is None  # tmp_path is not a checkout
    index = (out / "README.md").read_text()
    assert "**Complete**: 4 of the 4 models the config lists have a record" in index
    assert "unknown (" in index and "`eval/`: every model's evaluation record (4)" in index
    assert "| finetune | 1 | 100.0 |" in (out / "costs.md").read_text()


def test_an_unfinished_run_is_refused_unless_partial_and_then_says_so(tmp_path: Path):
    results = _run(tmp_path)
    (results / "eval" / "base" / "net2.json").unlink()
    with pytest.raises(InputError, match="3 of the 4 models .* missing: base/net2"):
        publish(results, tmp_path / "out", paper=PAPER)
    assert not (tmp_path / "out").exists()
    out = publish(results, tmp_path / "out", paper=PAPER, partial=True)
    assert "**PARTIAL**: 3 of the 4 models" in (out / "README.md").read_text()


def test_completeness_is_judged_against_the_config_not_the_records_found(tmp_path: Path):
    """Deleting records of whole rows leaves a run incomplete, whatever Table 1 exists."""
    results = _run(tmp_path)
    for path in (results / "eval").rglob("*net1*.json"):
        path.unlink()
    with pytest.raises(InputError, match="2 of the 4 models .* missing: base/net1"):
        publish(results, tmp_path / "out", paper=PAPER)


def test_a_recipe_dropped_from_the_config_leaves_the_table(tmp_path: Path):
    results = _run(tmp_path)
    _record(results, "finetune/FGV/net1-order1", "FGV", 1, 0.7)  # from an earlier config
    out = publish(results, tmp_path / "out", paper=PAPER)
    assert list(pd.read_csv(out / "table1.csv")["recipe"]) == ["basic", "FGS"]
    assert not (out / "eval" / "finetune" / "FGV").exists()


@pytest.mark.parametrize("where", ["same", "inside", "above", "file", "foreign"])
def test_an_out_that_publishing_would_destroy_is_refused(tmp_path: Path, where: str):
    results = _run(tmp_path)
    out = {"same": results, "inside": results / "pub", "above": tmp_path,
           "file": tmp_path / "a-file", "foreign": tmp_path / "docs"}[where]  # fmt: skip
    if where == "file":
        out.write_text("mine")
    if where == "foreign":
        (out / "mini").mkdir(parents=True)
        (out / "mini" / "README.md").write_text("a published mini run")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(InputError, match="OUT "):
        publish(results, out, paper=PAPER)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_publish_killed_between_its_renames_is_put_right_by_the_next(tmp_path: Path):
    results = _run(tmp_path)
    out = publish(results, tmp_path / "pub", paper=PAPER)
    # the state a kill after the first rename leaves: OUT aside, the build folder beside
    os.replace(out, tmp_path / ".pub.old-999999")
    (tmp_path / ".pub.publishing-999998").mkdir()
    assert main([str(results), "--out", str(out), "--paper", str(PAPER)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pub", "results"]
    assert (out / "SHA256SUMS").is_file()


def test_a_read_only_parent_is_named_without_a_traceback(tmp_path: Path, capsys):
    results = _run(tmp_path)
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        if os.access(parent, os.W_OK):
            pytest.skip("root writes into a read-only folder")
        assert main([str(results), "--out", str(parent / "pub"), "--paper", str(PAPER)]) == 2
        assert f"OUT {parent / 'pub'}: cannot publish there" in capsys.readouterr().err
    finally:
        parent.chmod(0o755)


def test_an_unrecorded_run_is_refused_unless_unrecorded(tmp_path: Path):
    results = _run(tmp_path, recorded=False)
    with pytest.raises(InputError, match="no start records, so the commit and config"):
        publish(results, tmp_path / "out", paper=PAPER)
    out = publish(results, tmp_path / "out", paper=PAPER, unrecorded=True)
    assert "No start records" in (out / "README.md").read_text()
    assert not (out / "config.yaml").exists()


def test_a_failed_publish_leaves_the_earlier_one_and_no_debris(tmp_path: Path, capsys):
    results = _run(tmp_path)
    out = publish(results, tmp_path / "pub", paper=PAPER)
    before = (out / "README.md").read_text()
    broken = results / "eval" / "base" / "net1.json"
    broken.write_text("{not json")  # fails while the tables are made, after the checks
    assert main([str(results), "--out", str(out), "--paper", str(PAPER)]) == 2
    assert f"publish: {broken}" in capsys.readouterr().err
    assert (out / "README.md").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pub", "results"]


def test_bad_arguments_are_named_without_a_traceback(tmp_path: Path, capsys):
    assert main([str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "nope: no such results folder" in capsys.readouterr().err
    results = _run(tmp_path)
    assert main([str(results), "--out", str(tmp_path / "o"), "--paper", "missing.yaml"]) == 2
    assert "--paper missing.yaml: no such file" in capsys.readouterr().err


def test_a_full_disk_is_named_as_out_and_leaves_no_build_folder(tmp_path: Path, capsys):
    """A raw OSError once named the hidden build folder."""
    import subprocess

    results = _run(tmp_path)
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(tiny)]
    if subprocess.run(mount, capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        assert main([str(results), "--out", str(tiny / "pub"), "--paper", str(PAPER)]) == 2
        err = capsys.readouterr().err
        assert f"OUT {tiny / 'pub'}: cannot publish there: No space left on device" in err, err
        assert list(tiny.iterdir()) == []
    finally:
        subprocess.run(["umount", str(tiny)], check=False)
