"""hardpos: adversarial diversity and hard-positive generation (Rozsa, Rudd, Boult 2016).

The library behind the workflow: MNIST loading, Caffe's LeNet and solver, adversarial
directions with a minimal-scale search, the PASS score, and evaluation. Images cross
module boundaries as uint8 arrays in [0, 255] with a pandas table, one row per image.
"""

from hardpos.attacks import generate
from hardpos.augment import infimnist_style
from hardpos.data import load_mnist
from hardpos.errors import HardposError
from hardpos.evaluate import error_rate, predict
from hardpos.imagenet import ImageNetClassifier, load_classifier
from hardpos.models import LeNet, load_model, save_model
from hardpos.pass_score import PassResult, filter_by_tau, pass_score, score_generated, ssim
from hardpos.train import Solver, train

__all__ = [
    "HardposError",
    "ImageNetClassifier",
    "LeNet",
    "PassResult",
    "Solver",
    "error_rate",
    "filter_by_tau",
    "generate",
    "infimnist_style",
    "load_classifier",
    "load_mnist",
    "load_model",
    "pass_score",
    "predict",
    "save_model",
    "score_generated",
    "ssim",
    "train",
]
__version__ = "0.1.0"
