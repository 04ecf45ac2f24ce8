"""The ImageNet branch (section 5.3, Figure 3): torchvision GoogLeNet and ResNet-152 taking
uint8 center crops, ImageFolder trees read as crops, and SGD fine-tuning of those networks.

Attacks (:func:`hardpos.generate`) and PASS (:func:`hardpos.pass_score`) need nothing
from here: they work on any model with ``logits(x)`` and on colour images.
"""

from hardpos.imagenet.data import center_crop, load_crops, scan_split
from hardpos.imagenet.models import ImageNetClassifier, load_classifier, save_classifier

__all__ = [
    "ImageNetClassifier",
    "center_crop",
    "load_classifier",
    "load_crops",
    "save_classifier",
    "scan_split",
]
