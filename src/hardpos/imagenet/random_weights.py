"""Random but usable ImageNet classifier weights, for smoke runs and tests (no weights can
be downloaded here): torchvision's random initialisation with batch-norm statistics
re-estimated on the data and the last layer fitted by ridge regression."""

from __future__ import annotations

import numpy as np
import torch

from hardpos.imagenet.classifiers import ImageNetClassifier


def random_classifier(
    arch: str,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    num_classes: int,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> tuple[ImageNetClassifier, float]:
    """A randomly initialised ``arch`` that classifies many of ``images`` correctly, and its
    accuracy on them.

    Everything below the last layer keeps torchvision's random initialisation, with the
    batch-norm statistics set to those of ``images`` (so activations keep their scale
    through the depth, as in a trained network); the last layer (``fc``) is then fitted by
    ridge regression to the images' features, so the attacks have sources in every class
    and fine-tuning has gradients of a sensible size.
    """
    torch.manual_seed(seed)
    model = ImageNetClassifier(arch, num_classes).to(device).eval()
    batchnorms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for layer in batchnorms:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over all batches
    model.train()
    with torch.no_grad():
        for begin in range(0, len(images), 32):
            model.logits(torch.from_numpy(images[begin : begin + 32]).to(device).float())
    model.eval()
    for layer in batchnorms:
        layer.momentum = 0.1
    captured: list[torch.Tensor] = []
    hook = model.net.fc.register_forward_pre_hook(lambda _m, args: captured.append(args[0]))
    with torch.no_grad():
        for begin in range(0, len(images), 32):
            model.logits(torch.from_numpy(images[begin : begin + 32]).to(device).float())
    hook.remove()
    features = torch.cat(captured).double().cpu()
    features = torch.cat([features, torch.ones(len(features), 1, dtype=torch.float64)], dim=1)
    n_classes = model.num_classes
    targets = 10.0 * (
        torch.nn.functional.one_hot(torch.as_tensor(labels), n_classes) - 1 / n_classes
    )
    gram = features.T @ features
    ridge = 1e-3 * gram.diagonal().mean() * torch.eye(len(gram), dtype=torch.float64)
    weights = torch.linalg.solve(gram + ridge, features.T @ targets.double())
    with torch.no_grad():
        model.net.fc.weight.copy_(weights[:-1].T.float())
        model.net.fc.bias.copy_(weights[-1].float())
        predicted = model.logits(torch.from_numpy(images).to(device).float()).argmax(1).cpu()
    accuracy = float((predicted.numpy() == labels).mean())
    return model, accuracy
