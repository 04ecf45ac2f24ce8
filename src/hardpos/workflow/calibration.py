"""The cost model's rates, read from ``calibration.yaml`` beside this file: data with its
provenance (which run, which commit, which processor measured each figure), not code.

``make plan`` prices each job by its stage's rate; the rates are CPU seconds of a
one-thread job on the reference machine the file names. Where earlier runs left
``benchmark:`` files, the plan scales each rule by what its jobs really took.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hardpos.errors import DataError

CALIBRATION_FILE = Path(__file__).with_name("calibration.yaml")


@dataclass(frozen=True)
class Rate:
    """How fast one job of a stage works, and where the figures come from."""

    unit: str  # what the stage's work is counted in
    cpu: float  # units/s of a one-thread job on the reference machine
    overhead: float  # seconds a job takes besides its work (start-up, imports, inputs)
    gpu: float | None  # units/s on one CUDA device; None: the stage runs on the CPU
    source: str
    run: str = "assumed"  # the run (calibration.yaml's runs:) that measured it


def _load(path: Path = CALIBRATION_FILE) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
        runs = data["runs"]
        for name, entry in data["stages"].items():
            if entry["run"] not in (*runs, "assumed"):
                raise KeyError(f"stages.{name}.run")
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise DataError(f"{path}: not a calibration file ({error})") from None
    return data


_DATA = _load()
REFERENCE_MACHINE: dict[str, Any] = _DATA["reference_machine"]
RUNS: dict[str, dict[str, str]] = _DATA["runs"]
THREAD_SPEEDUP: float = float(_DATA["thread_speedup"]["value"])
SCHEDULER_SECONDS: float = float(_DATA["scheduler_seconds"]["value"])
GPU_OVERHEAD: float = float(_DATA["gpu_overhead"]["value"])
FGS_OBJECTIVE_PASSES: float = float(_DATA["fgs_objective_passes"]["value"])
CALIBRATION: dict[str, Rate] = {
    name: Rate(
        unit=entry["unit"],
        cpu=float(entry["cpu"]),
        overhead=float(entry["overhead"]),
        gpu=None if entry["gpu"] is None else float(entry["gpu"]),
        source=entry["source"],
        run=entry["run"],
    )
    for name, entry in _DATA["stages"].items()
}
