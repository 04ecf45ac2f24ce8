"""Fine-tuning an :class:`~hardpos.imagenet.classifiers.ImageNetClassifier` with SGD.

The update is Caffe's (:func:`hardpos.training.solver.caffe_sgd_step`: momentum, weight
decay on every parameter, biases at ``bias_lr_mult`` times the rate) with the solver's
learning-rate policy; the batch order is the seeded, resumable one of
:mod:`hardpos.training.batches` (original crops and added hard positives shuffled
together, or a fixed share of every batch), and dropout is seeded by (seed, iteration).
A checkpoint every ``checkpoint_every``
iterations lets a killed run resume with the same batches and the same final weights.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from hardpos.errors import InputError, ModelError
from hardpos.files.checksums import verify_if_zip
from hardpos.files.images import ImageStack
from hardpos.files.weights import save_weights
from hardpos.imagenet.classifiers import ImageNetClassifier
from hardpos.imagenet.folders import CropDataset
from hardpos.training.loop import batch_order, lr_multipliers, sgd_loop
from hardpos.training.solver import Solver, check_finite

log = logging.getLogger(__name__)


class MixedSet(torch.utils.data.Dataset):
    """The original crops (decoded on demand) followed by the added uint8 images.

    ``images`` is an array ``[M, 3, c, c]`` or an :class:`~hardpos.files.images.ImageStack` of files
    (memory-mapped, so each item reads one image and DataLoader workers share the pages).
    """

    def __init__(
        self, original: CropDataset, images: np.ndarray | ImageStack, labels: np.ndarray
    ) -> None:
        self.original = original
        if not isinstance(images, ImageStack):
            images = np.asarray(images, dtype=np.uint8)
        self.images = images
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
        self.n_original = len(original)

    def __len__(self) -> int:
        return self.n_original + len(self.images)

    def __getitem__(self, i: int):
        if i < self.n_original:
            return self.original[i]
        j = i - self.n_original
        return torch.from_numpy(np.array(self.images[j], dtype=np.uint8)), int(self.labels[j])


class _Batches(torch.utils.data.Sampler):
    """Index lists of iterations ``start .. stop - 1`` of a seeded order."""

    def __init__(self, order, start: int, stop: int) -> None:
        self.order, self.start, self.stop = order, start, stop

    def __iter__(self):
        for it in range(self.start, self.stop):
            yield self.order.indices(it).tolist()

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


def _save(path, model: ImageNetClassifier, momentum, iteration: int, identity: dict) -> None:
    blob = {"model": model.net.state_dict(), "momentum": momentum, "iteration": iteration}
    save_weights({**blob, **identity}, path)


def _resume(path, model: ImageNetClassifier, identity: dict, device):
    if path is None or not Path(path).is_file():
        return None
    verify_if_zip(path, error=ModelError)  # torch.load reads the zip without its CRCs
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt file
        raise ModelError(f"{path}: not a readable checkpoint ({exc})") from None
    mismatched = [key for key in identity if blob.get(key) != identity[key]]
    if mismatched:
        log.warning("ignoring %s: written with other %s", path, ", ".join(mismatched))
        return None
    model.net.load_state_dict(blob["model"])
    log.info("resuming from %s at iteration %d", path, blob["iteration"])
    return [m.to(device) for m in blob["momentum"]], int(blob["iteration"])


def finetune(
    model: ImageNetClassifier,
    original: pd.DataFrame,
    added_images: np.ndarray | ImageStack,
    added_labels: np.ndarray,
    *,
    seed: int,
    iterations: int,
    solver: Solver,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1000,
    extra_fraction: float | None = None,
    workers: int = 0,
    device: torch.device | str = "cpu",
    progress: Callable[[int, float, float], None] | None = None,
) -> ImageNetClassifier:
    """Fine-tune ``model`` for ``iterations`` SGD steps on the crops of the index
    ``original`` plus ``added_images`` (uint8 ``[M, 3, c, c]``, or an
    :class:`~hardpos.files.images.ImageStack` of image files: read an image at a time) with their
    true labels.

    ``checkpoint`` is written every ``checkpoint_every`` iterations and resumed from when
    it exists (and was written by the same kind of run). Returns the model in eval mode.
    """
    device = torch.device(device)
    data = MixedSet(CropDataset(original), added_images, added_labels)
    if len(data.labels) != len(data.images):
        raise InputError(f"{len(data.images)} added images but {len(data.labels)} labels")
    if len(data.labels) and int(data.labels.max()) >= model.num_classes:
        raise InputError(f"label {int(data.labels.max())} beyond the model's classes")
    n_extra = len(data.images)
    identity = {
        "seed": int(seed),
        "solver": asdict(solver),
        "n_examples": len(data),
        "n_extra": n_extra,
        "extra_fraction": extra_fraction,
    }
    model = model.to(device)
    params = list(model.parameters())
    momentum, first = [torch.zeros_like(p) for p in params], 0
    resumed = _resume(checkpoint, model, identity, device)
    if resumed is not None:
        momentum, first = resumed
    order = batch_order(len(data), n_extra, extra_fraction, seed, solver.batch_size)
    batches = iter(
        torch.utils.data.DataLoader(
            data, batch_sampler=_Batches(order, first, iterations), num_workers=workers
        )
    )
    model.train()
    if solver.frozen_batchnorm:
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()

    def step(iteration: int) -> torch.Tensor:
        x, y = next(batches)
        # dropout draws from (seed, iteration) alone, so a resumed run matches an unbroken one
        torch.manual_seed(int(seed) * 1_000_003 + iteration)
        loss = F.cross_entropy(model.logits(x.to(device).float()), y.to(device))
        for p in params:
            p.grad = None
        loss.backward()
        return loss

    def save(iteration: int) -> None:
        if checkpoint is not None:
            _save(checkpoint, model, momentum, iteration, identity)

    sgd_loop(
        step=step, params=params, momentum=momentum,
        lr_mults=lr_multipliers((name for name, _ in model.named_parameters()), solver),
        solver=solver, first=first, iterations=iterations, checkpoint_every=checkpoint_every,
        finite=lambda iteration, loss, lr: check_finite(iteration, loss, params, lr),
        save=save, progress=progress,
    )  # fmt: skip
    return model.eval()
