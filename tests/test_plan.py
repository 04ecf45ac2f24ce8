"""The run plan: reading Snakemake's dry run, the cost model, the schedule, the command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from paths import REPO
from workflow_outputs import copy_workflow

from hardpos.workflow import dry_run

SNAKEMAKE = REPO / ".venv/bin/snakemake"

VENV_SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def plan_rows(stdout: str) -> dict[str, list[str]]:
    """``make plan``'s table: rule -> [jobs, to run]."""
    return {
        words[0]: words[1:3]
        for words in (line.split() for line in stdout.splitlines())
        if len(words) > 2 and words[1].isdigit()
    }


@pytest.mark.skipif(
    shutil.which("snakemake") is None and not SNAKEMAKE.exists(), reason="needs snakemake"
)
def test_make_plan_on_the_smoke_config_lists_every_rule(tmp_path):
    snakemake = REPO / ".venv/bin/snakemake"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "hardpos.workflow.plan", "--cores", "2",
         "--snakemake", str(snakemake if snakemake.exists() else "snakemake"),
         "--configfile", "config/smoke.yaml", "--config", f"results={tmp_path}/results"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = plan_rows(result.stdout)
    # the smoke config: 1 base net, 7 recipes + 2 buckets x 2 orderings, 1 InfiMNIST net
    assert rows["finetune"] == ["18", "18"]  # 7 recipes + 2 PASS ranges, 2 orderings
    assert rows["evaluate"] == ["20", "20"]
    assert rows["total"] == ["91", "91"]
    assert "On 2 CPU cores" in result.stdout and "With one CUDA device" in result.stdout


@pytest.mark.skipif(
    shutil.which("snakemake") is None and not SNAKEMAKE.exists(), reason="needs snakemake"
)
def test_make_plan_on_the_imagenet_config_without_its_tree_plans_and_says_so(tmp_path):
    """It once stopped on Snakemake's MissingInputException for the ImageNet folder."""
    snakemake = SNAKEMAKE if SNAKEMAKE.exists() else "snakemake"
    absent = tmp_path / "imagenet"
    result = subprocess.run(
        [sys.executable, "-m", "hardpos.workflow.plan", "--cores", "2", "--snakemake",
         str(snakemake), "--configfile", "config/imagenet.yaml", "--config",
         f"results={tmp_path}/results", f"imagenet_dir={absent}"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "MissingInputException" not in result.stdout + result.stderr
    words = [line.split() for line in result.stdout.splitlines()]
    rows = {w[0]: w[1] for w in words if len(w) > 2 and w[1].isdigit()}
    assert rows["index_imagenet"] == "2" and rows["finetune"] == "1"
    assert f"imagenet_dir {absent}: no such folder here; planned without it" in result.stdout
    assert not absent.exists()


@pytest.mark.skipif(not VENV_SNAKEMAKE.exists(), reason="needs the project's snakemake")
def test_to_run_is_snakemakes_own_count_with_the_jobs_whose_params_changed(tmp_path, real_mnist):
    """Once the plan counted a job done when its outputs existed: 482 to run where
    Snakemake's dry run said 540, its params having changed."""
    copy_workflow(tmp_path, ("Snakefile", "workflow", "config", "envs", "profiles"))
    (tmp_path / "mnist-elsewhere").symlink_to(real_mnist)  # the same files, a new param
    data = ["out/data/mnist-train.npz", "out/data/mnist-test.npz"]

    def args(mnist: Path | str) -> list[str]:
        return ["--configfile", "config/smoke.yaml", "--config", f"mnist_dir={mnist}",
                "results=out"]  # fmt: skip

    made = subprocess.run([str(VENV_SNAKEMAKE), "--cores", "2", *args(real_mnist), "--", *data],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert made.returncode == 0, made.stderr[-3000:]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    for mnist, prepare in ((real_mnist, ["2", "0"]), ("mnist-elsewhere", ["2", "2"])):
        planned = subprocess.run(
            [sys.executable, "-m", "hardpos.workflow.plan", "--cores", "2",
             "--snakemake", str(VENV_SNAKEMAKE), *args(mnist)],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert planned.returncode == 0, planned.stderr[-3000:]
        rows = plan_rows(planned.stdout)
        assert rows["prepare_mnist"] == prepare, planned.stdout
        dry = subprocess.run([str(VENV_SNAKEMAKE), "-n", "--cores", "2", *args(mnist)],
                             cwd=tmp_path, capture_output=True, text=True, check=False)  # fmt: skip
        assert rows["total"][1] == str(sum(dry_run.parse_job_stats(dry.stdout).values()))
    assert "Ignored 2 benchmark files of jobs Snakemake reruns because their params" in (
        planned.stdout
    )
