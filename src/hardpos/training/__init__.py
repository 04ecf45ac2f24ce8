"""SGD training as Caffe does it: one :class:`Solver` (with its learning-rate policy) for
LeNet and the ImageNet classifiers, seeded batch orders, checkpoints that resume exactly.

May import :mod:`hardpos.mnist`, :mod:`hardpos.imagenet` and :mod:`hardpos.files`.
"""

from hardpos.training.lenet_training import train
from hardpos.training.solver import Solver

__all__ = ["Solver", "train"]
