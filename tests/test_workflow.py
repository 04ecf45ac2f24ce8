"""The real snakemake on a temporary copy of the workflow: dry runs, config errors, a smoke run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


@pytest.fixture
def workdir(tmp_path: Path, real_mnist: Path) -> Path:
    """A copy of the workflow whose default MNIST folder is the real one."""
    for item in ("Snakefile", "workflow", "config", "envs", "profiles"):
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, tmp_path / item)
        elif src.exists():
            shutil.copy(src, tmp_path / item)
    (tmp_path / "src").symlink_to(REPO / "src")
    for name in ("config.yaml", "smoke.yaml"):
        path = tmp_path / "config" / name
        text = re.sub(r"(?m)^mnist_dir:.*$", f"mnist_dir: {real_mnist}", path.read_text())
        path.write_text(text)
    return tmp_path


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [str(SNAKEMAKE), "--cores", "2", "--resources", "gpu=2", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def job_counts(dry_run_stdout: str) -> dict[str, int]:
    table = dry_run_stdout.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"(?m)^(\w+)\s+(\d+)\s*$", table)}


def test_dry_run_of_the_paper_config_plans_three_base_nets(workdir):
    run = snakemake(workdir, "-n")
    assert run.returncode == 0, run.stderr
    counts = job_counts(run.stdout)
    assert counts["train_base"] == 3
    assert counts["prepare_mnist"] == 2


def test_a_wrong_config_key_stops_with_a_message_naming_it(workdir):
    run = snakemake(workdir, "-n", "--config", "treads=2")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "unknown key 'treads'" in output
    assert "Traceback" not in output


def test_lint_is_clean(workdir):
    run = subprocess.run(
        [str(SNAKEMAKE), "--lint", "--configfile", "config/smoke.yaml"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Lints for" not in run.stdout + run.stderr


@pytest.mark.slow
def test_smoke_workflow_runs_end_to_end(workdir):
    run = snakemake(workdir, "--configfile", "config/smoke.yaml")
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((workdir / "results" / "eval" / "base" / "net1.json").read_text())
    assert 0.0 < metrics["test"]["error"] < 0.2
    assert (workdir / "results" / "logs" / "train_base" / "net1.log").stat().st_size > 0
    again = snakemake(workdir, "--configfile", "config/smoke.yaml", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
