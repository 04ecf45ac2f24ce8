"""Each start of the workflow records what it ran (hardpos.workflow.provenance): a real
git checkout for the commit, the real snakemake for the hook (a run writes one record, a
dry run none)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from workflow_outputs import copy_workflow

from hardpos.errors import DataError
from hardpos.workflow.provenance import git_state, read_runs, record_run

VENV = Path(sys.executable).parent.parent


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def test_the_commit_and_the_files_that_differ_from_it(tmp_path: Path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "Snakefile").write_text("rule all:\n")
    (tmp_path / "config.yaml").write_text("a: 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "first")
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert git_state(tmp_path) == {"commit": head, "changed_files": []}
    (tmp_path / "config.yaml").write_text("a: 2\n")
    (tmp_path / "untracked.txt").write_text("not part of the workflow\n")
    assert git_state(tmp_path) == {"commit": head, "changed_files": ["config.yaml"]}


def test_outside_a_checkout_the_record_says_so(tmp_path: Path):
    state = git_state(tmp_path)
    assert state["commit"] is None and "is not a git checkout" in state["note"]


def test_records_are_written_and_read_back_oldest_first(tmp_path: Path):
    config = {"results": str(tmp_path / "results"), "base": {"seeds": [1, 2]}}
    first = record_run(config, tmp_path)
    (second_path := first.with_name("99999999T999999Z-1.yaml")).write_text(
        yaml.safe_dump({"started": "later", "config": {}})
    )
    runs = read_runs(config["results"])
    assert [r["started"] for r in runs][1] == "later" and second_path.exists()
    record = runs[0]
    assert record["config"] == config
    assert {"python", "hardpos", "snakemake", "torch"} <= set(record["versions"])
    assert record["machine"]["cores"] >= 1 and record["command"]
    assert not list(first.parent.glob("*.tmp"))


def test_a_run_writes_one_record_and_a_dry_run_none(tmp_path: Path, real_mnist: Path):
    copy_workflow(tmp_path, ("Snakefile", "workflow", "config", "envs", "profiles"))
    snakemake = VENV / "bin" / "snakemake"
    args = [str(snakemake), "--cores", "1", "--configfile", "config/smoke.yaml", "--config",
            f"mnist_dir={real_mnist}", "results=out", "--", "out/data/mnist-test.npz"]  # fmt: skip
    dry = subprocess.run([*args[:3], "-n", *args[3:]], cwd=tmp_path, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert read_runs(tmp_path / "out") == []
    run = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    (record,) = read_runs(tmp_path / "out")
    assert record["config"]["results"] == "out"
    assert record["config"]["mnist_dir"] == str(real_mnist)
    assert record["commit"] is None  # the copy is not a checkout; its record says so
    assert record["workflow"] == str(tmp_path.resolve())


@pytest.mark.parametrize("text", ["", "started: [unclosed\n", "- a list\n", "config: 3\n"])
def test_an_invalid_or_empty_run_record_is_named(tmp_path, text):
    """Once a ParserError or AttributeError traceback from make publish."""
    folder = tmp_path / "results" / "logs" / "runs"
    folder.mkdir(parents=True)
    (folder / "20261207T000000Z-1.yaml").write_text(text)
    with pytest.raises(DataError, match="20261207T000000Z-1.yaml: "):
        read_runs(tmp_path / "results")
