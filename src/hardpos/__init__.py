"""hardpos: adversarial diversity and hard-positive generation (Rozsa, Rudd, Boult 2016).

The library behind the workflow: MNIST loading, Caffe's LeNet and solver, adversarial
directions with a minimal-scale search, the PASS score, and evaluation. Images cross
module boundaries as uint8 arrays in [0, 255] with a pandas table, one row per image.

The names below are loaded on first use (PEP 562), so ``import hardpos`` (and the
workflow's DAG, which imports :mod:`hardpos.workflow`) does not load torch or OpenCV.
"""

from __future__ import annotations

from hardpos.lazy_exports import lazy_exports

# public name -> the module that defines it
_EXPORTS = {
    "HardposError": "hardpos.errors",
    "ImageNetClassifier": "hardpos.imagenet.classifiers",
    "LeNet": "hardpos.mnist.lenet",
    "PassResult": "hardpos.similarity.scoring",
    "Solver": "hardpos.training.solver",
    "error_rate": "hardpos.metrics.classification",
    "filter_by_tau": "hardpos.similarity.generated",
    "finetune": "hardpos.experiments.own_model_finetuning",
    "generate": "hardpos.attacks.generation",
    "infimnist_style": "hardpos.mnist.deformations",
    "load_classifier": "hardpos.imagenet.classifiers",
    "load_mnist": "hardpos.mnist.idx",
    "load_model": "hardpos.experiments.models",
    "minimal_norms": "hardpos.robustness.minimal_norm",
    "pass_score": "hardpos.similarity.scoring",
    "predict": "hardpos.metrics.classification",
    "robust_accuracy": "hardpos.robustness.budget",
    "save_model": "hardpos.mnist.lenet",
    "score_generated": "hardpos.similarity.generated",
    "ssim": "hardpos.similarity.ssim",
    "train": "hardpos.training.lenet_training",
}
__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
