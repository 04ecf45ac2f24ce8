"""Each start of the workflow records what it ran (hardpos.workflow.provenance): a real
git checkout for the commit, the real snakemake for the hook (a run writes one record, a
dry run none)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from workflow_outputs import copy_workflow

from hardpos.workflow.provenance import read_runs

VENV = Path(sys.executable).parent.parent


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
