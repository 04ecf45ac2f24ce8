"""Error rates of a classifier on a set of uint8 images (top-1, top-k) and the correctly
classified sources an attack starts from."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch

from hardpos.errors import InputError
from hardpos.imagenet.folders import iterate_crops

log = logging.getLogger(__name__)


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    images: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 1000,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Predicted labels (argmax of ``model.logits``) for uint8 images ``[N, C, H, W]``
    (or ``[N, H, W]``); a memory-mapped array is read ``batch_size`` images at a time."""
    x_all = images if isinstance(images, torch.Tensor) else np.asarray(images)
    if x_all.ndim == 3:
        x_all = x_all[:, None]
    model = model.to(device).eval()
    out = []
    for start in range(0, len(x_all), batch_size):
        x = x_all[start : start + batch_size]
        x = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x))
        x = x.to(device).float()
        out.append(model.logits(x).argmax(1).cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def error_rate(
    model: torch.nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray,
    *,
    batch_size: int = 1000,
    device: torch.device | str = "cpu",
) -> dict:
    """Fraction of ``images`` whose predicted label differs from ``labels``."""
    predicted = predict(model, images, batch_size=batch_size, device=device)
    labels = np.asarray(labels)
    wrong = int((predicted != labels).sum())
    n = int(len(labels))
    return {"error": wrong / n if n else float("nan"), "n": n, "wrong": wrong}


@torch.no_grad()
def topk_errors(
    model: torch.nn.Module,
    index: pd.DataFrame,
    *,
    batch_size: int = 100,
    workers: int = 0,
    device: torch.device | str = "cpu",
) -> dict:
    """Top-1 and top-5 error of ``model`` on the crops of ``index`` (fractions in [0, 1]).

    Top-5 uses ``min(5, classes)`` guesses (with 5 or fewer classes it is 0 by definition).
    """
    model = model.to(device).eval()
    k = min(5, int(model.num_classes))
    wrong1 = wrong5 = n = 0
    for x, y in iterate_crops(index, batch_size=batch_size, workers=workers):
        top = model.logits(x.to(device).float()).topk(k, dim=1).indices.cpu()
        hit = top == y.view(-1, 1)
        wrong1 += int((~hit[:, 0]).sum())
        wrong5 += int((~hit.any(dim=1)).sum())
        n += len(y)
    nan = float("nan")
    return {
        "top1": wrong1 / n if n else nan,
        "top5": wrong5 / n if n else nan,
        "n": n,
        "wrong_top1": wrong1,
        "wrong_top5": wrong5,
        "top5_k": k,
    }


def select_correct(
    model: torch.nn.Module,
    index: pd.DataFrame,
    *,
    per_class: int,
    batch_size: int = 100,
    workers: int = 0,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``per_class`` correctly classified crops of every class, in index order.

    Returns uint8 crops ``[M, 3, c, c]``, labels ``[M]`` and their rows in the index. A
    class with fewer correctly classified images gives what it has (logged).
    """
    parts = list(iter_correct(model, index, per_class=per_class, batch_size=batch_size,
                              workers=workers, device=device))  # fmt: skip
    images, labels, rows = zip(*parts, strict=True)
    return np.concatenate(images), np.concatenate(labels), np.concatenate(rows)


def iter_correct(
    model: torch.nn.Module,
    index: pd.DataFrame,
    *,
    per_class: int,
    batch_size: int = 100,
    workers: int = 0,
    device: torch.device | str = "cpu",
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`select_correct` a batch at a time: yields (crops, labels, index rows) of each
    batch's picks, so a caller can write them out and hold one batch."""
    if len(index) == 0:
        raise InputError("the index is empty: no image to select")
    return _correct_batches(model.to(device).eval(), index, per_class, batch_size, workers,
                            device)  # fmt: skip


@torch.no_grad()
def _correct_batches(model, index, per_class, batch_size, workers, device):
    for label, group in index.groupby("label", sort=True):
        taken = 0
        for begin in range(0, len(group), batch_size):
            chunk = group.iloc[begin : begin + batch_size]
            loader = iterate_crops(chunk, batch_size=batch_size, workers=workers)
            x, y = next(iter(loader))
            ok = (model.logits(x.to(device).float()).argmax(1).cpu() == y).numpy()
            pick = np.flatnonzero(ok)[: per_class - taken]
            yield x.numpy()[pick], y.numpy()[pick], chunk.index.to_numpy()[pick]
            taken += len(pick)
            if taken >= per_class:
                break
        if taken < per_class:
            log.warning("class %s: only %d correctly classified images", label, taken)
