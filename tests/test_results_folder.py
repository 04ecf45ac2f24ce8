"""A results folder belongs to the config that made it: another config is refused before
Snakemake can rerun (and delete) anything there; configs that make the same outputs share."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from paths import REPO
from workflow_outputs import copy_workflow

from hardpos.workflow.run_config import load_config

SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def config(*files: str, results: Path | None = None) -> dict:
    args = ["--configfile", *(f"config/{name}" for name in files)]
    loaded = load_config(args, workdir=REPO)
    return loaded if results is None else {**loaded, "results": str(results)}


def test_a_run_into_another_configs_folder_stops_before_touching_it(tmp_path, real_mnist):
    """The real snakemake: a smoke start makes the folder its own; the mini config, run or
    dry-run into it, stops while the DAG is built, and the smoke output stays as it was."""
    copy_workflow(tmp_path, ("Snakefile", "workflow", "config", "envs", "profiles"))
    target = "out/data/mnist-test.npz"
    common = ["--cores", "1", "--config", f"mnist_dir={real_mnist}", "results=out"]

    def snakemake(configfile: str, *extra: str) -> subprocess.CompletedProcess:
        command = [str(SNAKEMAKE), "--configfile", configfile, *common, *extra, "--", target]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)

    first = snakemake("config/smoke.yaml")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Results folder: out (this start's record: out/logs/runs/" in first.stdout
    made = tmp_path / target
    before = (made.stat().st_mtime_ns, made.read_bytes())
    for extra in ((), ("--dry-run",), ("--forcerun", "prepare_mnist")):
        refused = snakemake("config/mini.yaml", *extra)
        assert refused.returncode != 0
        output = refused.stdout + refused.stderr
        assert "results folder out holds the outputs of another config" in output, output
        assert "--config results=out-2" in output and "Traceback" not in output
    assert (made.stat().st_mtime_ns, made.read_bytes()) == before
    again = snakemake("config/smoke.yaml", "--dry-run")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_make_costs_and_publish_read_the_folder_of_the_config_in_args():
    stamp = Path(sys.executable).parent.parent / ".hardpos-installed"
    venv = f"VENV={Path(sys.executable).parent.parent}"
    for target, folder in (("costs", "results/mini"), ("publish", "results/mini --out x")):
        shown = subprocess.run(
            ["make", "-n", "-o", str(stamp), target, venv, "OUT=x",
             "ARGS=--configfile config/mini.yaml"],
            cwd=REPO, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert f"hardpos.workflow.{target} {folder}" in shown.stdout
