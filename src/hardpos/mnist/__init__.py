"""MNIST: its IDX files, Caffe's LeNet and the InfiMNIST-style deformations.

May import :mod:`hardpos.files`, :mod:`hardpos.errors` and :mod:`hardpos.device`.
"""

from hardpos.mnist.deformations import infimnist_style
from hardpos.mnist.idx import load_mnist
from hardpos.mnist.lenet import LeNet, load_lenet, save_model

__all__ = ["LeNet", "infimnist_style", "load_lenet", "load_mnist", "save_model"]
