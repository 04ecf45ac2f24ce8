"""What each start of the workflow ran: the commit, the config, the versions, the machine.

A published result has to say which code and which config made it, and a long run may
be stopped and resumed, perhaps at another commit or with another config line. So every
start that runs jobs (Snakemake's ``onstart``, never a dry run) writes one record,
``{results}/logs/runs/<UTC time>-<pid>.yaml``: when, the command line, the git commit of
the workflow's checkout and the files that differ from it, the merged config, the
versions of Python, hardpos, Snakemake and torch, and the machine (processor, cores,
load average). :func:`read_runs` reads them back in order, for publishing a run.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from hardpos.errors import DataError
from hardpos.files.atomic import write_text
from hardpos.files.run_folders import RecordFolders

PACKAGES = ("hardpos", "snakemake", "torch", "torchvision", "numpy", "opencv-python-headless")


def git_state(checkout: str | os.PathLike) -> dict[str, Any]:
    """The commit of ``checkout`` and its tracked files that differ from it (an empty
    list: the run used the commit exactly). Outside a git checkout, says so."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(checkout), *args],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip

    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = git("status", "--porcelain", "--untracked-files=no").splitlines()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "note": f"{checkout} is not a git checkout (or git is missing)"}
    return {"commit": commit, "changed_files": [line[3:] for line in changed]}


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:  # metadata only: nothing here imports torch
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_record(config: dict[str, Any], checkout: str | os.PathLike) -> dict[str, Any]:
    """The record of this start: see the module's docstring."""
    return {
        "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": sys.argv,
        "workflow": str(Path(checkout).resolve()),
        **git_state(checkout),
        "versions": _versions(),
        "machine": {
            "processor": _processor(),
            "cores": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "host": platform.node(),
        },
        "config": config,
    }


def record_run(config: dict[str, Any], checkout: str | os.PathLike) -> Path:
    """Write this start's record under ``config["results"]`` (atomically) and return it."""
    record = run_record(config, checkout)
    stamp = record["started"].replace(":", "").replace("-", "")
    path = RecordFolders.of(config["results"]).runs / f"{stamp}-{os.getpid()}.yaml"
    write_text(path, yaml.safe_dump(_plain(record), sort_keys=False))
    return path


def _plain(value: Any) -> Any:
    """``value`` with every mapping and sequence made a plain dict and list, as YAML
    writes them (Snakemake's config may be a dict subclass)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def read_runs(results: str | os.PathLike) -> list[dict[str, Any]]:
    """Every start's record under ``results``, oldest first."""
    return read_run_records(RecordFolders.of(results).runs)


def read_run_records(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """Every run record (``*.yaml``) in ``folder``, oldest first; one that is not a mapping
    with a ``config`` mapping is a :class:`DataError` naming the file."""
    runs = []
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            run = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise DataError(f"{path}: not a readable run record ({error})") from None
        if not isinstance(run, dict) or not isinstance(run.get("config"), dict):
            raise DataError(f"{path}: a run record is a mapping with a 'config' mapping")
        runs.append(run)
    return runs
