"""SGD training as Caffe does it: one :class:`Solver` (with its learning-rate policy) for
LeNet and the ImageNet classifiers, seeded batch orders, checkpoints that resume exactly.

May import :mod:`hardpos.mnist`, :mod:`hardpos.imagenet` and :mod:`hardpos.files`. The
names below load on first use, so the recipes' objective settings can be checked while
the workflow's DAG is built without loading torch.
"""

from __future__ import annotations

from hardpos.lazy_exports import lazy_exports

_EXPORTS = {"Solver": "hardpos.training.solver", "train": "hardpos.training.lenet_training"}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
