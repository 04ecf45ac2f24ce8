"""Error rates of a classifier on a set of uint8 images."""

from __future__ import annotations

import numpy as np
import torch


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
