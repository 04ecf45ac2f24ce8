"""The real snakemake on a temporary copy of the workflow: dry runs, config errors, lint,
and the smoke config run through `make run` (killed during fine-tuning, then resumed)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from workflow_outputs import finished_outputs

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent
SNAKEMAKE = VENV / "bin" / "snakemake"


@pytest.fixture
def workdir(tmp_path: Path, real_mnist: Path) -> Path:
    """A copy of the workflow whose default MNIST folder is the real one."""
    for item in ("Snakefile", "Makefile", "workflow", "config", "envs", "profiles"):
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, tmp_path / item)
        elif src.exists():
            shutil.copy(src, tmp_path / item)
    (tmp_path / "src").symlink_to(REPO / "src")
    path = tmp_path / "config" / "config.yaml"
    path.write_text(re.sub(r"(?m)^mnist_dir:.*$", f"mnist_dir: {real_mnist}", path.read_text()))
    return tmp_path


def snakemake(workdir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SNAKEMAKE), "--cores", "2", "--resources", "gpu=2", *args],
        cwd=workdir, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def make_run(workdir: Path, args: str) -> subprocess.Popen:
    """`make run` as a user types it, on the already-installed virtualenv."""
    stamp = VENV / ".hardpos-installed"
    command = ["make", "-o", str(stamp), "run", f"VENV={VENV}", f"ARGS={args}"]
    return subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip


def job_counts(dry_run_stdout: str) -> dict[str, int]:
    table = dry_run_stdout.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"(?m)^(\w+)\s+(\d+)\s*$", table)}


def test_dry_run_of_the_paper_config_plans_the_papers_experiment(workdir):
    run = snakemake(workdir, "-n")
    assert run.returncode == 0, run.stderr
    counts = job_counts(run.stdout)
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    recipes = len(config["recipes"]) + len(config["buckets"]["edges"]) - 1
    assert counts["train_base"] == 3
    assert counts["finetune"] == 9 * recipes
    assert counts["train_infimnist"] == 3
    assert counts["heldout"] == 1
    assert config["heldout"]["per_type"] * len(config["heldout"]["types"]) == 70_000
    assert counts["evaluate"] == 3 + 9 * recipes + 3


def test_a_wrong_config_key_stops_with_a_message_naming_it(workdir):
    run = snakemake(workdir, "-n", "--config", "treads=2")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "unknown key 'treads'" in output
    assert "Traceback" not in output


def test_a_bad_recipe_stops_with_a_message_naming_it(workdir):
    config = workdir / "config" / "config.yaml"
    config.write_text(config.read_text().replace("method: fgv}", "method: fgv, k: 3}"))
    run = snakemake(workdir, "-n")
    assert run.returncode != 0
    assert "recipe 'FGV': k applies to hc-d and hc-s only" in run.stdout + run.stderr


def test_lint_is_clean(workdir):
    run = subprocess.run(
        [str(SNAKEMAKE), "--lint"], cwd=workdir, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Lints for" not in run.stdout + run.stderr


@pytest.mark.slow
def test_smoke_run_killed_during_fine_tuning_resumes_and_makes_every_table_and_figure(workdir):
    results = workdir / "results"
    first = make_run(workdir, "--configfile config/smoke.yaml")
    deadline = time.monotonic() + 600
    checkpoints = results / "checkpoints" / "finetune"
    while time.monotonic() < deadline and first.poll() is None:
        if any(checkpoints.rglob("*.ckpt")):
            break
        time.sleep(0.2)
    assert first.poll() is None, "the smoke run ended before fine-tuning: " + first.stdout.read()
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    finished = finished_outputs(results)
    killed = sorted(p.name for p in checkpoints.rglob("*.ckpt"))
    assert killed

    second = make_run(workdir, "--configfile config/smoke.yaml")
    output, _ = second.communicate(timeout=900)
    assert second.returncode == 0, output[-4000:]
    for path, mtime in finished.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was redone"
    resumed = [p for p in (results / "logs" / "finetune").glob("*.log")
               if "resuming from" in p.read_text()]  # fmt: skip
    assert resumed, "no fine-tuning job resumed from its checkpoint"

    tables = results / "tables"
    for name in ("table1.csv", "table1.md", "table1.tex", "table1_vs_paper.csv",
                 "table1_vs_paper.md", "heldout_by_type.csv", "heldout_by_type.md"):  # fmt: skip
        assert (tables / name).stat().st_size > 0, name
    table1 = (tables / "table1.md").read_text()
    for recipe in ("basic", "FGS", "HC-D-9", "HC-D-3-1.10-tau", "clean", "InfiMNIST-style"):
        assert recipe in table1
    for fig in ("fig2", "fig4", "fig5", "fig6"):
        assert (results / "figures" / f"{fig}.png").read_bytes()[:4] == b"\x89PNG"
        assert (results / "figures" / f"{fig}.pdf").read_bytes()[:4] == b"%PDF"
    report = (workdir / "report.html").read_text(errors="replace")
    assert "fig4.png" in report and "table1.csv" in report
    again = snakemake(workdir, "--configfile", "config/smoke.yaml", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
