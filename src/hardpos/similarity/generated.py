"""Eq. 5 as a table filter, and PASS for a generated set described by a per-image table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from hardpos.device import CPU_AUTO_BATCH, is_batch_size
from hardpos.errors import InputError
from hardpos.similarity.eq5 import meets_eq5
from hardpos.similarity.scoring import pass_score


def filter_by_tau(table: pd.DataFrame, tau: float, column: str = "pass") -> pd.DataFrame:
    """Rows that are adversarial by the paper's eq. 5: misclassified and PASS >= tau.

    "Misclassified" is the ``success`` column when the table has one (rows without it are
    taken as misclassified, e.g. hard positives already filtered). Rows with a missing
    (NaN) PASS are dropped. The original index is kept so rows still point at their images.
    """
    if column not in table.columns:
        raise InputError(
            f"table has no {column!r} column to compare with tau; columns: {list(table.columns)}"
        )
    if not isinstance(tau, int | float | np.number) or not -1.0 <= float(tau) <= 1.0:
        raise InputError(f"tau must be a number in [-1, 1] (PASS's range), got {tau!r}")
    misclassified = table["success"] if "success" in table.columns else np.ones(len(table))
    keep = meets_eq5(misclassified, table[column].to_numpy(dtype=np.float64), float(tau))
    return table.loc[keep].copy()


def score_generated(
    adv_images: np.ndarray,
    orig_images: np.ndarray,
    table: pd.DataFrame,
    backend: str = "auto",
    batch_size: int | str = 16384,
    *,
    device: str | None = None,
    **ecc_options,
) -> pd.DataFrame:
    """A copy of ``table`` with ``pass`` (float64) and ``ecc_converged`` (bool) columns.

    ``adv_images`` is uint8 ``[M, C, H, W]`` with one table row per image, in order;
    ``table["source"]`` indexes the original each was made from in ``orig_images``
    (``[N, C, H, W]``, or ``[N, H, W]`` for greyscale). Every row is scored, also those
    whose attack failed: they are images all the same. Pairs go through
    :func:`pass_score` ``batch_size`` at a time to bound memory; ``backend``, ``device``
    and ``ecc_options`` are passed on. Both image arrays may be memory maps
    (:func:`hardpos.files.images.load_images`): only each batch's images are read, so memory is set
    by ``batch_size``, not by the number of images. ``batch_size="auto"``: 4096 on the
    CPU; on CUDA the pairs that iterate together on the device
    (:func:`hardpos.similarity.torch_backend.gpu_capacity`, from its free memory).
    """
    adv_images = np.asarray(adv_images)
    orig_images = np.asarray(orig_images)
    if adv_images.ndim != 4:
        raise InputError(f"adv_images must be [M, C, H, W], got shape {adv_images.shape}")
    if orig_images.ndim == 3:
        orig_images = orig_images[:, None]
    if orig_images.ndim != 4 or orig_images.shape[1:] != adv_images.shape[1:]:
        raise InputError(
            f"orig_images must be [N, {', '.join(map(str, adv_images.shape[1:]))}] to match "
            f"adv_images {adv_images.shape}, got {orig_images.shape}"
        )
    if len(table) != len(adv_images):
        raise InputError(
            f"table has {len(table)} rows but there are {len(adv_images)} adversarial images"
        )
    if "source" not in table.columns:
        raise InputError(f"table needs a 'source' column; columns: {list(table.columns)}")
    source = table["source"].to_numpy()
    if len(source) and (
        not np.issubdtype(source.dtype, np.integer)
        or source.min() < 0
        or source.max() >= len(orig_images)
    ):
        raise InputError(
            f"table['source'] must hold integer indices into the {len(orig_images)} originals, "
            f"got dtype {source.dtype}"
            + (f" and range [{source.min()}, {source.max()}]" if len(source) else "")
        )
    batch_size = _batch_size(batch_size, adv_images.shape, device)
    scores = np.empty(len(table), dtype=np.float64)
    converged = np.empty(len(table), dtype=bool)
    for start in range(0, len(table), batch_size):
        part = slice(start, start + batch_size)
        result = pass_score(
            adv_images[part],
            orig_images[source[part]],
            backend,
            device=device,
            **ecc_options,
        )
        scores[part], converged[part] = result.scores, result.converged
    out = table.copy()
    out["pass"] = scores
    out["ecc_converged"] = converged
    return out


def _batch_size(batch_size: int | str, shape: tuple[int, ...], device) -> int:
    if not is_batch_size(batch_size):
        raise InputError(f'batch_size must be a positive integer or "auto"; got {batch_size!r}')
    if batch_size != "auto":
        return int(batch_size)
    dev = torch.device(device or "cpu")
    if dev.type != "cuda":
        return CPU_AUTO_BATCH
    from hardpos.similarity.torch_backend import gpu_capacity

    return gpu_capacity(shape[2] * shape[3], dev)
