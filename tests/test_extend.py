"""make continue on the real Snakemake: a small run made through a published folder, then
extended on a fresh copy of the workflow with a recipe of the user's own, running only
that recipe's jobs, with Table 1 holding every row and the paired statistics."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from workflow_outputs import copy_workflow

from hardpos.files.digests import verify_folder

VENV = Path(sys.executable).parent.parent
ITEMS = ("Snakefile", "Makefile", "workflow", "config", "envs", "profiles")
# the smoke config cut to two recipes (one the clean control), two orders, no extras
SMALL = """\
recipes:
  - {name: FGS, method: fgs}
  - {name: clean, method: none}
buckets: {enabled: false}
infimnist: {enabled: false}
robustness: {enabled: false}
"""
MINE = "  - {name: HC-D-3, method: hc-d, k: 3}\n"


def _workflow(dest: Path, mnist: Path, *, extra_recipe: bool = False) -> Path:
    dest.mkdir()
    copy_workflow(dest, ITEMS)
    config = dest / "config" / "config.yaml"
    config.write_text(re.sub(r"(?m)^mnist_dir:.*$", f"mnist_dir: {mnist}", config.read_text()))
    small = SMALL.replace("buckets:", MINE + "buckets:") if extra_recipe else SMALL
    (dest / "config" / "small.yaml").write_text(small)
    return dest


def _make(workdir: Path, target: str, folder: Path) -> subprocess.CompletedProcess:
    args = "--configfile config/smoke.yaml config/small.yaml"
    command = ["make", "-o", str(VENV / ".hardpos-installed"), target, f"VENV={VENV}",
               f"FROM={folder}", f"ARGS={args}"]  # fmt: skip
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=1200)


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}  # fmt: skip


def _jobs(results: Path, rule: str) -> list[str]:
    folder = results / "benchmarks" / rule
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob("*.tsv"))


@pytest.mark.slow
def test_a_published_run_is_extended_on_a_fresh_clone_with_only_the_new_recipes_jobs(
    tmp_path: Path, real_mnist: Path
):
    first = _workflow(tmp_path / "first", real_mnist)
    published = tmp_path / "published"
    run = _make(first, "continue", published)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "is complete" in run.stdout
    verify_folder(published)
    assert sorted(pd.read_csv(published / "table1.csv")["recipe"]) == ["FGS", "basic", "clean"]

    # a fresh clone: the published folder is all that travels (as a repository holds it)
    clone = _workflow(tmp_path / "clone", real_mnist, extra_recipe=True)
    shutil.copytree(published, clone / "docs" / "paper")
    folder = clone / "docs" / "paper"
    before = _contents(folder)
    planned = _make(clone, "plan", folder)
    assert planned.returncode == 0, planned.stdout[-3000:] + planned.stderr[-3000:]
    assert _contents(folder) == before, "make plan wrote into the published folder"
    assert re.search(r"(?m)^finetune\s+2\s", planned.stdout), planned.stdout
    assert not re.search(r"(?m)^(train_base|heldout|prepare_mnist)\s", planned.stdout)
    extended = _make(clone, "continue", folder)
    assert extended.returncode == 0, extended.stdout[-3000:] + extended.stderr[-3000:]

    results = clone / "results" / "smoke"  # the smoke config's folder (small.yaml adds none)
    assert _jobs(results, "train_base") == []  # the base net came from the seed
    assert _jobs(results, "heldout") == []  # and so did the held-out set
    assert _jobs(results, "finetune") == ["HC-D-3-net1-order1", "HC-D-3-net1-order2"]
    assert _jobs(results, "evaluate") == ["finetune/HC-D-3/net1-order1",
                                          "finetune/HC-D-3/net1-order2"]  # fmt: skip
    assert _jobs(results, "generate") == ["train-net1-hc-d"]

    verify_folder(folder)
    table = pd.read_csv(folder / "table1.csv").set_index("recipe")
    assert sorted(table.index) == ["FGS", "HC-D-3", "basic", "clean"]
    assert table.loc["HC-D-3", "networks"] == 2
    paired = [c for c in table.columns if "paired" in c and "clean" in c]
    assert paired and table.loc["HC-D-3", paired].notna().all(), table.loc["HC-D-3"]
    # the earlier rows' records are the published ones, untouched
    for path in (published / "eval").rglob("*.json"):
        assert (folder / path.relative_to(published)).read_bytes() == path.read_bytes()
    again = _make(clone, "plan", folder)
    assert "has nothing to run" in again.stdout, again.stdout[-2000:]
