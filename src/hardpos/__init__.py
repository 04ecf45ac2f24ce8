"""hardpos: adversarial diversity and hard-positive generation (Rozsa, Rudd, Boult 2016).

The library behind the workflow: MNIST loading, Caffe's LeNet and solver, adversarial
directions with a minimal-scale search, the PASS score, and evaluation. Images cross
module boundaries as uint8 arrays in [0, 255] with a pandas table, one row per image.

The names below are loaded on first use (PEP 562), so ``import hardpos`` (and the
workflow's DAG, which imports :mod:`hardpos.workflow`) does not load torch or OpenCV.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# public name -> the module that defines it
_EXPORTS = {
    "HardposError": "hardpos.errors",
    "ImageNetClassifier": "hardpos.imagenet.classifiers",
    "LeNet": "hardpos.mnist.lenet",
    "PassResult": "hardpos.pass_score.scoring",
    "Solver": "hardpos.training.solver",
    "error_rate": "hardpos.metrics.classification",
    "filter_by_tau": "hardpos.pass_score.generated",
    "finetune": "hardpos.experiments.own_model_finetuning",
    "generate": "hardpos.attacks.generation",
    "infimnist_style": "hardpos.mnist.deformations",
    "load_classifier": "hardpos.imagenet.classifiers",
    "load_mnist": "hardpos.mnist.idx",
    "load_model": "hardpos.experiments.models",
    "minimal_norms": "hardpos.robustness.minimal_norm",
    "pass_score": "hardpos.pass_score.scoring",
    "predict": "hardpos.metrics.classification",
    "robust_accuracy": "hardpos.robustness.budget",
    "save_model": "hardpos.mnist.lenet",
    "score_generated": "hardpos.pass_score.generated",
    "ssim": "hardpos.pass_score.ssim",
    "train": "hardpos.training.lenet_training",
}
__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hardpos' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Hardpos(types.ModuleType):
    """``hardpos.pass_score`` is a function and also the name of the subpackage that holds
    it. Importing the subpackage (``hardpos.pass_score.ssim``, or ``filter_by_tau`` above)
    binds the attribute to the subpackage; this property keeps it the function, as an eager
    ``from hardpos.pass_score import pass_score`` did. The subpackage is still imported
    by its dotted name (``sys.modules``)."""

    @property
    def pass_score(self) -> Any:
        return importlib.import_module("hardpos.pass_score.scoring").pass_score

    @pass_score.setter
    def pass_score(self, _module: types.ModuleType) -> None:
        pass  # the import system binding the subpackage: keep the function


sys.modules[__name__].__class__ = _Hardpos
