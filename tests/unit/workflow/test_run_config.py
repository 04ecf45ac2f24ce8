"""hardpos.workflow.run_config: config files and overrides merged as Snakemake does, and the
results folder each shipped config names."""

from __future__ import annotations

import pytest

from hardpos.workflow import run_config
from hardpos.workflow.dry_run import PlanError

from .conftest import config


def test_config_overlays_like_snakemake(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text(
        "base: {seeds: [1, 2, 3], iterations: 10000}\nresults: results\nthreads: 2\n"
    )
    (tmp_path / "small.yaml").write_text("base: {seeds: [1]}\nthreads: 1\n")
    args = ["--configfile", "small.yaml", "-n", "--config", "results=out", "threads=4"]
    config = run_config.load_config(args, workdir=tmp_path)
    # mappings merge, lists and scalars replace, --config last, its values parsed as YAML
    assert config == {"base": {"seeds": [1], "iterations": 10000}, "results": "out", "threads": 4}


def test_missing_config_file_is_named(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text("threads: 2\n")
    with pytest.raises(PlanError, match="nothere.yaml"):
        run_config.load_config(["--configfile=nothere.yaml"], workdir=tmp_path)


def test_an_override_joins_the_overrides_already_given():
    """A second --config option would replace the first one's values."""
    args = ["-n", "--config", "threads=2", "--configfile", "a.yaml", "b.yaml", "--cores", "1"]
    assert run_config.with_override(args, "imagenet_dir=/x") == [
        "-n", "--cores", "1", "--configfile", "a.yaml", "b.yaml",
        "--config", "threads=2", "imagenet_dir=/x",
    ]  # fmt: skip


def test_the_title_names_each_config_file_once():
    args = ["--configfile", "config/config.yaml", "config/paper-rows.yaml", "--config", "threads=2"]
    assert run_config.describe_configs(args) == (
        "config/config.yaml + config/paper-rows.yaml (--config threads=2)"
    )
    assert run_config.describe_configs([]) == "config/config.yaml"


def test_each_shipped_config_names_its_own_folder():
    names = ("smoke.yaml", "mini.yaml", "config.yaml", "imagenet.yaml", "imagenet-smoke.yaml")
    folders = {name: config(name)["results"] for name in names}
    assert folders["smoke.yaml"] == "results/smoke" and folders["mini.yaml"] == "results/mini"
    assert folders["config.yaml"] == "results/paper"
    assert len(set(folders.values())) == len(folders), folders
    # the paper's rows are the whole config's, fewer: the same run, the same folder
    assert config("config.yaml", "paper-rows.yaml")["results"] == "results/paper"
