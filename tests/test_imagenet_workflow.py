"""The ImageNet branch through the real snakemake: the paper-scale plan (dry run), lint,
and the smoke config end to end (synthetic ImageFolder, random weights, a few iterations)
producing the section 5.3 table and Figure 3, then resumed without redoing anything."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from workflow_outputs import copy_workflow

SNAKEMAKE = Path(sys.executable).parent / "snakemake"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    copy_workflow(tmp_path, ("Snakefile", "workflow", "config", "envs"))
    # an (empty) ImageFolder tree where config/imagenet.yaml looks for one
    path = tmp_path / "config" / "imagenet.yaml"
    (tmp_path / "imagenet").mkdir()
    path.write_text(re.sub(r"(?m)^imagenet_dir:.*$", "imagenet_dir: imagenet", path.read_text()))
    return tmp_path


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SNAKEMAKE), "--cores", "2", "--resources", "gpu=2", *args],
        cwd=workdir, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def job_counts(stdout: str) -> dict[str, int]:
    table = stdout.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"(?m)^(\w+)\s+(\d+)\s*$", table)}


def test_dry_run_of_the_imagenet_config_plans_section_5_3(workdir):
    run = snakemake(workdir, "-n", "--configfile", "config/imagenet.yaml")
    assert run.returncode == 0, run.stderr
    counts = job_counts(run.stdout)
    # two networks load their weights and pick 15 crops per class; each generates FGS, FGV
    # and HC-1..HC-20 (Figure 3 and the fine-tuning set); GoogLeNet alone is fine-tuned
    assert counts["import_model"] == 2 and counts["select_images"] == 2
    assert counts["generate"] == 6 and counts["score_pass"] == 6
    assert counts["finetune"] == 1 and counts["evaluate"] == 3
    assert counts["table_imagenet"] == 1 and counts["figure3"] == 1
    assert not {"train_base", "prepare_mnist", "heldout", "table1"} & set(counts)
    assert "trainsets/HC-D-20-tau0.99/googlenet.npz" in run.stdout
    config = yaml.safe_load((workdir / "config" / "imagenet.yaml").read_text())
    assert config["finetune"]["iterations"] == 500_000
    assert config["imagenet"]["solver"]["batch_size"] == 80


@pytest.mark.parametrize("config", ["config/imagenet.yaml", "config/imagenet-smoke.yaml"])
def test_lint_is_clean_on_the_imagenet_configs(workdir, config):
    run = subprocess.run(
        [str(SNAKEMAKE), "--lint", "--configfile", config],
        cwd=workdir, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Lints for" not in run.stdout + run.stderr


def test_a_missing_weights_file_stops_the_run_naming_it(workdir):
    config = workdir / "config" / "imagenet.yaml"
    config.write_text(
        config.read_text().replace(
            "googlenet: {weights: torchvision}", "googlenet: {weights: nowhere/googlenet.pth}"
        )
    )
    run = snakemake(workdir, "-n", "--configfile", "config/imagenet.yaml")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "Missing input files for rule import_model" in output
    assert "nowhere/googlenet.pth" in output


@pytest.mark.slow
def test_imagenet_smoke_run_makes_the_table_and_figure_3(workdir):
    run = snakemake(workdir, "--configfile", "config/imagenet-smoke.yaml", timeout=1200)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    results = workdir / "results" / "imagenet-smoke"
    table = pd.read_csv(results / "tables" / "imagenet.csv")
    ours = table[table["source"] == "ours"]
    assert set(ours["network"]) == {"googlenet", "resnet152"}
    tuned = ours[ours["recipe"] == "HC-D-3-tau0.9"]
    assert len(tuned) == 1 and tuned["added_images"].iloc[0] > 0
    assert tuned["top1_gain_per_image"].notna().all()
    assert ours[["top1", "top5"]].apply(lambda c: c.between(0, 100)).all().all()
    markdown = (results / "tables" / "imagenet.md").read_text()
    assert "Top-1 gain per added image" in markdown and "30.552%" in markdown
    for ext, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
        assert (results / "figures" / f"fig3.{ext}").read_bytes()[:4] == magic
    scored = pd.read_parquet(results / "adversarials/train/googlenet/hc-d/scored.parquet")
    assert scored["pass"].between(-1, 1).all() and set(scored["k"]) == {1, 2, 3}
    log = (results / "logs" / "finetune" / "HC-D-3-tau0.9-googlenet-order1.log").read_text()
    assert "iteration 6" in log and "loss nan" not in log
    tuned_weights = torch.load(
        results / "models/finetune/HC-D-3-tau0.9/googlenet-order1.pt", weights_only=True
    )
    assert all(t.isfinite().all() for t in tuned_weights.values() if t.is_floating_point())
    again = snakemake(workdir, "--configfile", "config/imagenet-smoke.yaml", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
