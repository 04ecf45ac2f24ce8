"""MNIST: its IDX files, Caffe's LeNet and the InfiMNIST-style deformations.

May import :mod:`hardpos.files`, :mod:`hardpos.errors` and :mod:`hardpos.device`.
The names below load on first use (PEP 562): the workflow's DAG reads MNIST's sizes
(:data:`hardpos.mnist.idx.MNIST_COUNTS`) without loading torch or OpenCV.
"""

from __future__ import annotations

from hardpos.lazy_exports import lazy_exports

_EXPORTS = {
    "LeNet": "hardpos.mnist.lenet",
    "infimnist_style": "hardpos.mnist.deformations",
    "load_lenet": "hardpos.mnist.lenet",
    "load_mnist": "hardpos.mnist.idx",
    "save_model": "hardpos.mnist.lenet",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
