"""MNIST: its IDX files, Caffe's LeNet and the InfiMNIST-style deformations.

May import :mod:`hardpos.files`, :mod:`hardpos.errors` and :mod:`hardpos.device`.
The names below load on first use (PEP 562): the workflow's DAG reads MNIST's sizes
(:data:`hardpos.mnist.idx.MNIST_COUNTS`) without loading torch or OpenCV.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LeNet": "hardpos.mnist.lenet",
    "infimnist_style": "hardpos.mnist.deformations",
    "load_lenet": "hardpos.mnist.lenet",
    "load_mnist": "hardpos.mnist.idx",
    "save_model": "hardpos.mnist.lenet",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hardpos.mnist' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
