"""The ImageNet branch (section 5.3, Figure 3): torchvision GoogLeNet and ResNet-152 taking
uint8 center crops, ImageFolder trees read as crops, random weights for smoke runs and a
synthetic tree for tests. Fine-tuning them is :mod:`hardpos.training`.

Attacks (:func:`hardpos.generate`) and PASS (:func:`hardpos.pass_score`) need nothing
from here: they work on any model with ``logits(x)`` and on colour images.
"""

from hardpos.imagenet.classifiers import ImageNetClassifier, load_classifier, save_classifier
from hardpos.imagenet.folders import center_crop, load_crops, scan_split

__all__ = [
    "ImageNetClassifier",
    "center_crop",
    "load_classifier",
    "load_crops",
    "save_classifier",
    "scan_split",
]
