"""A shipped config as the workflow loads it, for the workflow tests."""

from __future__ import annotations

from pathlib import Path

from paths import REPO

from hardpos.workflow.run_config import load_config


def config(*files: str, results: Path | None = None) -> dict:
    args = ["--configfile", *(f"config/{name}" for name in files)]
    loaded = load_config(args, workdir=REPO)
    return loaded if results is None else {**loaded, "results": str(results)}
