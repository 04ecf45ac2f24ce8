"""The conda environment the rules name lists the same packages as pyproject.toml."""

from __future__ import annotations

import re
import tomllib

import yaml
from paths import REPO

NOT_IN_JOBS = {"snakemake", "snakemake-executor-plugin-slurm"}  # the scheduler, not the jobs


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0].lower()


def test_every_conda_directive_names_an_existing_env():
    for rule_file in (REPO / "workflow" / "rules").glob("*.smk"):
        for env in re.findall(r'conda:\s*\n\s*"([^"]+)"', rule_file.read_text()):
            assert (rule_file.parent / env).resolve().is_file(), f"{rule_file.name}: {env}"


def test_conda_env_pins_match_pyproject():
    """The jobs' env holds the library's dependencies and the workflow and report extras
    (less the scheduler); torch and torchvision, ranges in pyproject.toml, pinned to the
    versions the Makefile installs."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    listed = [*project["dependencies"], *extras["workflow"], *extras["report"]]
    wanted = {_name(r): r for r in listed if _name(r) not in NOT_IN_JOBS | {"hardpos"}}
    makefile = (REPO / "Makefile").read_text()
    for name in ("torch", "torchvision"):
        pin = re.search(rf"\b{name}==([0-9.]+)", makefile)
        assert pin, f"the Makefile does not pin {name}"
        wanted[name] = f"{name}=={pin[1]}"
    for env_file in (REPO / "envs").glob("*.yaml"):
        deps = yaml.safe_load(env_file.read_text())["dependencies"]
        assert "python=3.11" in deps, env_file.name
        pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
        got = {_name(r): r for r in pip}
        assert got == wanted, f"{env_file.name} differs from pyproject.toml"


def test_the_library_alone_needs_no_workflow_or_report_packages():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    assert names == {
        "torch", "torchvision", "numpy", "opencv-python-headless", "pandas", "pyarrow", "tqdm",
    }  # fmt: skip


def test_source_packages_needing_old_setuptools_come_prebuilt_from_conda():
    """A conda env's pip section cannot pass pip's --build-constraint, so a package that
    envs/build-constraints.txt exists for (visdom, under adv-lib) must come from conda-forge
    already built, or `snakemake --sdm conda` fails on setuptools >= 81."""
    constraints = (REPO / "envs" / "build-constraints.txt").read_text()
    assert "setuptools<81" in constraints and "visdom" in constraints
    for env_file in (REPO / "envs").glob("*.yaml"):
        deps = yaml.safe_load(env_file.read_text())["dependencies"]
        conda = {_name(d.split("=")[0]) for d in deps if isinstance(d, str)}
        pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
        if "adv-lib" in {_name(r) for r in pip}:
            assert "visdom" in conda, f"{env_file.name}: visdom must be a conda dependency"
