"""hardpos.workflow.provenance: each start of the workflow records what it ran (a real git
checkout for the commit); records read back and checked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from hardpos.errors import DataError
from hardpos.workflow.provenance import git_state, read_runs, record_run


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


@pytest.mark.parametrize("text", ["", "started: [unclosed\n", "- a list\n", "config: 3\n"])
def test_an_invalid_or_empty_run_record_is_named(tmp_path, text):
    """Once a ParserError or AttributeError traceback from make publish."""
    folder = tmp_path / "results" / "logs" / "runs"
    folder.mkdir(parents=True)
    (folder / "20261207T000000Z-1.yaml").write_text(text)
    with pytest.raises(DataError, match="20261207T000000Z-1.yaml: "):
        read_runs(tmp_path / "results")
