"""Minimal adversarials and hard positives of a set of images: the attack API.

:func:`generate` attacks every correctly classified image along every direction its
methods name (:mod:`hardpos.attacks.methods`), finds the smallest adversarial scale on the
discrete grid (:mod:`hardpos.attacks.search`) and returns the images at ``factor * s_min``
for each requested factor (1.0: the minimal adversarial itself; 1.05, 1.10, ...: the
paper's hard positives, "HC-D-9-1.05"), with one table row per returned image.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from hardpos.attacks.directions import (
    Directions,
    as_nchw,
    compute_directions,
    model_device,
    model_dtype,
)
from hardpos.attacks.methods import Direction, parse_methods
from hardpos.attacks.search import REASONS, SearchOptions, minimal_scales
from hardpos.errors import InputError

log = logging.getLogger(__name__)

CPU_FORWARD_BATCH = 256
# generate_to_files merges its chunks' tables every this many chunks
TABLE_MERGE = 64

# column -> dtype of the table returned by generate
COLUMNS: dict[str, str] = {
    "source": "int64",  # index of the original image in the input
    "label": "int64",  # its label y (the model classifies it as y)
    "method": "object",  # fgs, fgv, hc-d, hc-s
    "k": "int64",  # hot rank (1 = closest scoring class); 0 for fgs/fgv
    "hot": "int64",  # hot class id; -1 for fgs/fgv
    "factor": "float64",  # hard-positive factor c (1.0: the minimal adversarial)
    "step": "float64",  # scale applied: c * s_min (failures: the largest scale tried)
    "s_min": "float64",  # smallest adversarial scale on the grid (NaN on failure)
    "adv_label": "int64",  # the model's label of the returned image
    "hot_reached": "bool",  # adv_label == hot
    "l2_per_pixel": "float64",  # ||x~ - x||_2 / m on the [0, 255] scale, m = C*H*W
    "linf": "float64",  # max |x~ - x| on the [0, 255] scale
    "success": "bool",  # the returned image is misclassified (adv_label != label)
    "reason": "object",  # why not: zero_direction, saturated, max_scale, not_misclassified
    "evals": "int64",  # model evaluations of the direction's search (factor != 1: +1 each)
}


def empty_table() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS.items()})


def _check_factors(factors: Iterable[float]) -> list[float]:
    try:
        values = [float(f) for f in factors]
    except (TypeError, ValueError):
        raise InputError(f"factors must be numbers; got {factors!r}") from None
    if not values:
        raise InputError("factors is empty: give at least 1.0 (the minimal adversarial)")
    for f in values:
        if not (np.isfinite(f) and f > 0):
            raise InputError(f"factor {f!r} must be a positive number (1.0: minimal)")
    return list(dict.fromkeys(values))


def _nchw(images: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """``images`` as ``[N, C, H, W]`` without a copy: a (read-only) memory map stays one,
    and each chunk is copied into a tensor when it is attacked (:func:`_chunk`)."""
    if isinstance(images, torch.Tensor):
        return as_nchw(images)
    x = np.asarray(images)
    x = x[:, None] if x.ndim == 3 else x
    if x.ndim != 4:
        raise InputError(f"images must be [N, H, W] or [N, C, H, W]; got shape {x.shape}")
    return x


def _chunk(x: np.ndarray | torch.Tensor, begin: int, end: int) -> torch.Tensor:
    part = x[begin:end]
    return part if isinstance(part, torch.Tensor) else torch.from_numpy(np.array(part))


def _check_inputs(images, labels) -> tuple[np.ndarray | torch.Tensor, torch.Tensor]:
    if not isinstance(images, np.ndarray | torch.Tensor):
        raise InputError(f"images must be a uint8 array; got {type(images).__name__}")
    x = _nchw(images)
    if x.dtype not in (np.uint8, torch.uint8):
        raise InputError(f"images must be uint8 pixel values in [0, 255]; got {x.dtype}")
    y = torch.as_tensor(np.asarray(labels))
    if y.ndim != 1 or len(y) != len(x):
        raise InputError(
            f"labels must be one class id per image: {len(x)} images but labels of shape "
            f"{tuple(y.shape)}"
        )
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise InputError(f"labels must be integers; got {y.dtype}")
    if math.prod(x.shape[1:]) == 0:
        raise InputError(f"images have no pixels: shape {tuple(x.shape)}")
    return x, y.to(torch.int64)


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def generate(
    model: torch.nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    methods: str | Sequence[str] = ("fgs", "fgv", "hc-d-9"),
    factors: Sequence[float] = (1.0,),
    batch_size: int = 4096,
    device: torch.device | str | None = None,
    forward_batch: int | None = None,
    max_scale: float = 255.0,
    start: float = 16.0,
    min_growth: float = 1.0,
    max_growth: float = 8.0,
    overshoot: float = 1.1,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Minimal adversarial images and hard positives along the paper's directions.

    Parameters
    ----------
    model : any ``torch.nn.Module`` with ``logits(x)`` taking pixel values ``[B, C, H, W]``
        (float, in [0, 255]) and returning the penultimate layer h(x) ``[B, n_classes]``.
        It is put in eval mode for the call (and restored) and moved to ``device``.
    images : uint8 ``[N, H, W]`` or ``[N, C, H, W]``.
    labels : ``[N]`` integer class ids. Images the model misclassifies are not attacked
        and give no rows.
    methods : names (:mod:`hardpos.attacks.methods`): ``fgs``, ``fgv``, ``hc-d-K``
        (HC-D-1..K), ``hc-s-K``, ``hc-d-kR`` (rank R alone); a list or ``"fgs,fgv"``.
    factors : hard-positive factors c > 0; each returned image is ``x~(c * s_min)``.
    batch_size : (image, direction) pairs searched together (the active set; pairs leave
        it when finished). Batch sizes change results only through the floating-point
        rounding of a float32 model's gradients (s_min in the 5th digit, rarely).
    device : where the model runs (``"auto"``: CUDA when present; default: where its
        parameters are).
    forward_batch : at most this many images per forward pass (default: 256 on the CPU,
        where larger batches fall out of the caches and run up to 3x slower per image;
        ``batch_size`` elsewhere). Directions are computed for
        ``forward_batch // (gradients per image)`` images at a time.
    max_scale : the cap on the scale s (grey levels of the strongest pixel before
        rounding); a direction not adversarial up to it fails with reason ``max_scale``.
    start, min_growth, max_growth, overshoot : the line search
        (:class:`hardpos.attacks.search.SearchOptions`); every direction starts at its
        free first-order estimate of the crossing, ``start`` only where there is none.
        The defaults take 3.3 (FGS) to 7.1 (HC-D-9) evaluations per direction on LeNet.

    Returns
    -------
    images : uint8 ``[M, C, H, W]``, one per table row.
    table : one row per (correctly classified source, direction, factor), ordered by
        source, then direction (in the order the methods name them), then factor; columns
        :data:`COLUMNS`. A direction without an adversarial up to the cap still has its
        rows: ``success`` False, ``s_min`` NaN, ``step`` the largest scale tried, the
        image the one at that scale (classified as the label), ``reason`` saying why. For
        ``factor != 1`` ``success`` means the scaled image is still misclassified
        (``reason`` ``not_misclassified`` otherwise).
    """
    pieces = list(
        iter_generate(
            model, images, labels, methods=methods, factors=factors, batch_size=batch_size,
            device=device, forward_batch=forward_batch, max_scale=max_scale, start=start,
            min_growth=min_growth, max_growth=max_growth, overshoot=overshoot,
        )
    )  # fmt: skip
    if not any(len(table) for _, table in pieces):
        shape = tuple(_nchw(images).shape[1:])
        return np.zeros((0, *shape), dtype=np.uint8), empty_table()
    images_out = np.concatenate([adv for adv, _ in pieces])
    table = pd.concat([table for _, table in pieces if len(table)], ignore_index=True)
    return images_out, table.astype(COLUMNS)


def iter_generate(
    model: torch.nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    **options,
) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
    """:func:`generate` one chunk of source images at a time, for sets that do not fit in
    memory: yields each chunk's images and table (``source`` indexing all of ``images``,
    columns :data:`COLUMNS`). A chunk is ``batch_size // directions`` sources, the same
    chunks :func:`generate` attacks, so the pieces concatenated are exactly its result.

    ``options`` are :func:`generate`'s keywords. They are checked at the call; ``images``
    may be a memory map, of which only the current chunk is read.
    """
    run = _prepare(model, images, labels, **options)
    return _iterate(model, run)


@dataclass(frozen=True)
class _Run:
    """A checked :func:`generate` call: inputs, directions, factors and search settings."""

    x: np.ndarray | torch.Tensor  # [N, C, H, W]; numpy (a memory map) is read per chunk
    y: torch.Tensor
    directions: list[Direction]
    factors: list[float]
    options: SearchOptions
    chunk: int
    forward_batch: int


def _prepare(
    model: torch.nn.Module,
    images,
    labels,
    *,
    methods: str | Sequence[str] = ("fgs", "fgv", "hc-d-9"),
    factors: Sequence[float] = (1.0,),
    batch_size: int = 4096,
    device: torch.device | str | None = None,
    forward_batch: int | None = None,
    max_scale: float = 255.0,
    start: float = 16.0,
    min_growth: float = 1.0,
    max_growth: float = 8.0,
    overshoot: float = 1.1,
) -> _Run:
    directions = parse_methods(methods)
    factor_list = _check_factors(factors)
    options = SearchOptions(
        start=float(start),
        max_scale=float(max_scale),
        min_growth=float(min_growth),
        max_growth=float(max_growth),
        overshoot=float(overshoot),
    )
    options.check()
    for name, value in (("batch_size", batch_size), ("forward_batch", forward_batch)):
        if value is None and name == "forward_batch":
            continue
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
            raise InputError(f"{name} must be a positive integer; got {value!r}")
    x_all, y_all = _check_inputs(images, labels)
    if device is not None:
        from hardpos.device import pick_device

        model.to(pick_device(str(device)))
    if forward_batch is None:
        on_cpu = model_device(model).type == "cpu"
        forward_batch = CPU_FORWARD_BATCH if on_cpu else int(batch_size)
    return _Run(
        x=x_all,
        y=y_all,
        directions=directions,
        factors=factor_list,
        options=options,
        chunk=max(1, int(batch_size) // len(directions)),
        forward_batch=int(forward_batch),
    )


def _iterate(model: torch.nn.Module, run: _Run) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
    n = len(run.x)
    with _eval_mode(model):
        for begin in range(0, n, run.chunk):
            adv, table = _generate_chunk(
                model,
                _chunk(run.x, begin, begin + run.chunk),
                run.y[begin : begin + run.chunk],
                run.directions,
                run.factors,
                run.options,
                offset=begin,
                forward_batch=run.forward_batch,
            )
            log.info("attacked images %d..%d of %d", begin, min(n, begin + run.chunk), n)
            yield adv, table.astype(COLUMNS)


def _generate_chunk(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    directions: list[Direction],
    factors: list[float],
    options: SearchOptions,
    *,
    offset: int,
    forward_batch: int,
) -> tuple[np.ndarray, pd.DataFrame]:
    dev = model_device(model)
    dtype = model_dtype(model)
    shape = tuple(x.shape[1:])
    ranks = {dr.k for dr in directions if dr.k}
    # gradients per image: the loss (FGS, FGV), and h_y plus each hot class (hot/cold)
    gradients = int(any(dr.k == 0 for dr in directions)) + (len(ranks) + 1 if ranks else 0)
    per = max(1, forward_batch // gradients)
    parts = [
        compute_directions(model, x[i : i + per].to(dev), y[i : i + per].to(dev), directions)
        for i in range(0, len(x), per)
    ]
    dirs = Directions(
        d=torch.cat([p.d for p in parts]),
        hot=torch.cat([p.hot for p in parts]),
        logits=torch.cat([p.logits for p in parts]),
        first_order=torch.cat([p.first_order for p in parts]),
    )
    correct = (dirs.logits.argmax(dim=1) == y.to(dev)).cpu()
    keep = torch.nonzero(correct).view(-1)
    n_img, n_dir, n_fac = len(keep), len(directions), len(factors)
    if n_img == 0:
        return np.zeros((0, *shape), dtype=np.uint8), empty_table()
    keep_dev = keep.to(dev)

    def classify(pixels: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.cat(
                [
                    model.logits(pixels[i : i + forward_batch].to(dtype).view(-1, *shape))
                    for i in range(0, len(pixels), forward_batch)
                ]
            )

    # pairs in (image, direction) order
    x_pairs = x[keep].to(dev).flatten(1).repeat_interleave(n_dir, dim=0).to(torch.float64)
    d_pairs = dirs.d[keep_dev].flatten(2).flatten(0, 1)
    y_pairs = y[keep].to(dev).repeat_interleave(n_dir)
    logits0 = dirs.logits[keep_dev].repeat_interleave(n_dir, dim=0)
    start = dirs.first_order[keep_dev].reshape(-1)
    result = minimal_scales(classify, x_pairs, d_pairs, y_pairs, logits0, options, start=start)

    # the returned images: (pair, factor) in that order
    fac = torch.tensor(factors, dtype=torch.float64, device=dev)
    ok = result.success
    step = torch.where(ok.view(-1, 1), result.scale.view(-1, 1) * fac, result.scale.view(-1, 1))
    rows = torch.arange(len(x_pairs), device=dev).repeat_interleave(n_fac)
    grid = result.grid.take(rows) if n_fac > 1 else result.grid
    pixels = grid.image(grid.levels(step.reshape(-1)))
    adv_logits = result.logits.repeat_interleave(n_fac, dim=0)
    # scaled images of successful pairs (factor != 1) need their own evaluation
    fresh = ok.repeat_interleave(n_fac) & (fac != 1.0).repeat(len(x_pairs))
    if bool(fresh.any()):
        adv_logits[fresh] = classify(pixels[fresh]).to(torch.float64)
    adv_label = adv_logits.argmax(dim=1)
    label_rows = y_pairs.repeat_interleave(n_fac)
    success = adv_label != label_rows
    diff = pixels - grid.x
    m = diff.shape[1]
    l2 = diff.square().sum(dim=1).sqrt() / max(m, 1)
    linf = diff.abs().amax(dim=1) if m else torch.zeros(len(diff), dtype=torch.float64)
    reason = np.asarray(REASONS, dtype=object)[result.reason.cpu().numpy()]
    reason = np.repeat(reason, n_fac)
    reverted = (ok.repeat_interleave(n_fac) & ~success).cpu().numpy()
    reason[reverted] = "not_misclassified"

    hot = dirs.hot[keep_dev].reshape(-1)
    hot_rows = hot.repeat_interleave(n_fac)
    table = pd.DataFrame(
        {
            "source": np.repeat((keep + offset).numpy(), n_dir * n_fac),
            "label": label_rows.cpu().numpy(),
            "method": np.tile(np.repeat([dr.method for dr in directions], n_fac), n_img),
            "k": np.tile(np.repeat([dr.k for dr in directions], n_fac), n_img),
            "hot": hot_rows.cpu().numpy(),
            "factor": np.tile(np.asarray(factors, dtype=np.float64), n_img * n_dir),
            "step": step.reshape(-1).cpu().numpy(),
            "s_min": torch.where(ok, result.scale, torch.nan)
            .repeat_interleave(n_fac)
            .cpu()
            .numpy(),
            "adv_label": adv_label.cpu().numpy(),
            "hot_reached": (adv_label == hot_rows).cpu().numpy(),
            "l2_per_pixel": l2.cpu().numpy(),
            "linf": linf.cpu().numpy(),
            "success": success.cpu().numpy(),
            "reason": reason,
            "evals": result.evals.repeat_interleave(n_fac).cpu().numpy(),
        }
    )
    images = pixels.round().clamp(0, 255).to(torch.uint8).view(-1, *shape).cpu().numpy()
    return images, table


def summarize(table: pd.DataFrame, by: Sequence[str] = ("method", "factor")) -> pd.DataFrame:
    """Per method (and factor): rows, successes, failures, success rate, how often the hot
    class was reached, mean evaluations per direction, and the medians of L2 per pixel,
    L-infinity and s_min over the successful rows; failures counted by reason."""
    by = list(by)
    missing = [c for c in [*by, "success", "l2_per_pixel", "linf"] if c not in table]
    if missing:
        raise InputError(f"table lacks columns {missing}; columns: {list(table.columns)}")
    rows = []
    for key, group in table.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        ok = group["success"].astype(bool)
        good = group[ok]
        row = dict(zip(by, key, strict=True))
        row.update(
            rows=len(group),
            successes=int(ok.sum()),
            failures=int((~ok).sum()),
            success_rate=float(ok.mean()) if len(group) else float("nan"),
            hot_reached=float(good["hot_reached"].mean())
            if "hot_reached" in good and len(good)
            else float("nan"),
            median_l2_per_pixel=float(good["l2_per_pixel"].median()),
            median_linf=float(good["linf"].median()),
        )
        if "s_min" in good:
            row["median_s_min"] = float(good["s_min"].median())
        if "evals" in group:
            row["mean_evals"] = float(group["evals"].mean())
        if "reason" in group:
            for name in REASONS[1:] + ("not_misclassified",):
                row[f"failed_{name}"] = int((group["reason"] == name).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def generate_to_files(
    model: torch.nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    methods: str | Sequence[str],
    factors: Sequence[float],
    out_images: str | os.PathLike,
    out_table: str | os.PathLike,
    device: str | torch.device | None = "auto",
    batch_size: int = 4096,
    columns: dict[str, object] | None = None,
    **search: float,
) -> pd.DataFrame:
    """:func:`generate` on ``model``, writing the images
    (:func:`hardpos.files.images.image_writer`, one chunk at a time: memory does not grow
    with the number of images) and the table (Parquet, with the constant ``columns``
    added, e.g. the net), atomically. Returns the table."""
    from hardpos.device import pick_device
    from hardpos.files.images import image_writer
    from hardpos.files.parquet import save_table

    dev = pick_device(None if device is None else str(device))
    model = model.to(dev).eval()
    pieces = iter_generate(
        model, images, labels, methods=methods, factors=factors, batch_size=batch_size,
        device=dev, **search,
    )  # fmt: skip
    tables: list[pd.DataFrame] = []
    with image_writer(out_images, _nchw(images).shape[1:]) as out:
        for adv, table in pieces:
            out.append(adv)
            if len(table):
                tables.append(table)
            if len(tables) == TABLE_MERGE:  # a frame costs ~30 KB beyond its rows
                tables = [pd.concat(tables, ignore_index=True)]
    table = pd.concat(tables, ignore_index=True) if tables else empty_table()
    del tables
    for name, value in (columns or {}).items():
        table[name] = value
    save_table(out_table, table)
    return table
