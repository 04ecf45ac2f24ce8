"""The one path scheme of a run's results folder, and of a published folder that mirrors
its records: every sub-folder name is defined here and nowhere else.

Torch-free and at the bottom of the library, so the workflow's layout (which builds every
rule's paths from it: :class:`hardpos.workflow.layout.Paths`), the report, publishing,
costs and the continuation all name the same folders. A test fails when a module under
``src/hardpos`` spells one of these names as a path of its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# sub-folders of a results folder
DATA = "data"
WEIGHTS = "weights"
MODELS = "models"
CHECKPOINTS = "checkpoints"
ADVERSARIALS = "adversarials"
TRAINSETS = "trainsets"
HELDOUT = "heldout"
EVALUATIONS = "eval"
ROBUSTNESS = "robustness"
TABLES = "tables"
FIGURES = "figures"
LOGS = "logs"
BENCHMARKS = "benchmarks"
RUNS = "runs"  # under logs/ in a results folder, at the top of a published one
# sub-folders Snakemake itself writes into (it follows a link planted there)
WRITTEN_BY_SNAKEMAKE = (BENCHMARKS, LOGS)


@dataclass(frozen=True)
class RecordFolders:
    """Where a folder keeps its records: a results folder, or (``published=True``) a
    published one, which holds the same records with the start records at the top."""

    root: Path
    published: bool = False

    @classmethod
    def of(cls, root: str | os.PathLike, *, published: bool = False) -> RecordFolders:
        return cls(Path(root), published)

    @property
    def evaluations(self) -> Path:
        return self.root / EVALUATIONS

    def evaluation(self, model_id: str) -> Path:
        return self.evaluations / f"{model_id}.json"

    @property
    def robustness(self) -> Path:
        return self.root / ROBUSTNESS

    @property
    def figures(self) -> Path:
        return self.root / FIGURES

    @property
    def tables(self) -> Path:
        return self.root / TABLES

    @property
    def benchmarks(self) -> Path:
        return self.root / BENCHMARKS

    @property
    def runs(self) -> Path:
        """Each start's record (:mod:`hardpos.workflow.provenance`)."""
        return self.root / RUNS if self.published else self.root / LOGS / RUNS
