"""Minimal adversarials and hard positives of a set of images: the attack API.

:func:`generate` attacks every correctly classified image along every direction its
methods name (:mod:`hardpos.attacks.methods`), finds the smallest adversarial scale on the
discrete grid (:mod:`hardpos.attacks.search`) and returns the images at ``factor * s_min``
for each requested factor (1.0: the minimal adversarial itself; 1.05, 1.10, ...: the
paper's hard positives, "HC-D-9-1.05"), with one table row per returned image.

Which layer the directions come from: FGS and FGV backpropagate the cross-entropy of the
logits, and hot/cold (eq. 7) backpropagates its feature vector from the logits, the
model's output h(x). The paper's B_l operator for another layer ``l`` is
:func:`hardpos.attacks.feature_direction`, which takes the output of a module named as in
``model.named_modules()`` with a forward hook; to attack from a layer, give ``model`` a
``logits`` method (or wrap it in a module whose ``forward``) returning that layer's
scores, e.g. the features of a penultimate layer followed by your own head.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from hardpos.attacks.attack_inputs import (
    Pixels,
    as_pixels,
    check_images_fit,
    class_labels,
    warn_if_mostly_misclassified,
)
from hardpos.attacks.classifier import PixelModel, model_device, model_dtype
from hardpos.attacks.directions import Directions, compute_directions
from hardpos.attacks.factors import at_factors, factor_rows
from hardpos.attacks.methods import Direction
from hardpos.attacks.options import DEFAULTS, AttackOptions
from hardpos.attacks.results import COLUMNS, AttackResult, empty_table
from hardpos.attacks.search import SearchOptions, minimal_scales
from hardpos.device import (
    CPU_AUTO_BATCH,
    batch_for_memory,
    free_memory,
    peak_bytes_per_item,
    pick_device,
)
from hardpos.errors import InputError
from hardpos.files.images import image_writer
from hardpos.files.parquet import save_table

log = logging.getLogger(__name__)


CPU_FORWARD_BATCH = 256

_PROBE_PAIRS = 256  # pairs of the forward and backward pass that measures memory per pair

# generate_to_files merges its chunks' tables every this many chunks
TABLE_MERGE = 64


@contextlib.contextmanager
def _eval_mode(model):
    if not isinstance(model, torch.nn.Module):
        yield
        return
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def show_progress(progress: bool | None) -> bool:
    """On when asked, else when stderr is a terminal (the workflow's logs keep their lines)."""
    if progress is not None:
        return bool(progress)
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def generate(
    model: torch.nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    methods: str | Sequence[str] = DEFAULTS.methods,
    factors: Sequence[float] = DEFAULTS.factors,
    batch_size: int = DEFAULTS.batch_size,
    device: torch.device | str | None = DEFAULTS.device,
    forward_batch: int | None = DEFAULTS.forward_batch,
    input_range: Sequence[float] = DEFAULTS.input_range,
    mean: Sequence[float] | float | None = DEFAULTS.mean,
    std: Sequence[float] | float | None = DEFAULTS.std,
    progress: bool | None = DEFAULTS.progress,
    max_scale: float = DEFAULTS.max_scale,
    start: float = DEFAULTS.start,
    min_growth: float = DEFAULTS.min_growth,
    max_growth: float = DEFAULTS.max_growth,
    overshoot: float = DEFAULTS.overshoot,
) -> AttackResult:
    """Minimal adversarial images and hard positives along the paper's directions.

    Parameters
    ----------
    model : any classifier: a ``torch.nn.Module`` (or a plain callable) mapping a batch
        ``[B, C, H, W]`` to logits ``[B, n_classes]``. Its ``logits`` method is used when
        it has one (hardpos's LeNet and ImageNet nets), else ``forward`` (the call). It
        is put in eval mode for the call (and restored) and, given ``device``, moved
        there. Gradients are taken in its parameters' dtype.
    images : ``[N, H, W]`` or ``[N, C, H, W]``: uint8 pixel values, or floats in
        ``input_range`` (numpy or torch). Float images are put on the paper's discrete
        grid (multiples of ``(high - low) / 255``; a warning says so when they were not
        on it already).
    labels : ``[N]`` integer class ids. Images the model misclassifies are not attacked:
        they give no rows and are listed in the result's ``misclassified``.
    methods : names (:mod:`hardpos.attacks.methods`): ``fgs``, ``fgv``, ``hc-d-K``
        (HC-D-1..K), ``hc-s-K``, ``hc-d-kR`` (rank R alone); a list or ``"fgs,fgv"``.
    factors : hard-positive factors c > 0; each returned image is ``x~(c * s_min)``.
    batch_size : (image, direction) pairs searched together (the active set; pairs leave
        it when finished). Batch sizes change results only through the floating-point
        rounding of a float32 model's gradients (s_min in the 5th digit, rarely).
        ``"auto"``: 4096 on the CPU; on CUDA what half the free memory holds, measured
        by one forward and backward pass (at most 65,536).
    device : where the model runs (``"auto"``: CUDA when present; default: where its
        parameters are).
    forward_batch : images per forward pass at most (default: 256 on the CPU, where larger
        batches fall out of the caches, up to 3x slower; ``batch_size`` elsewhere).
    input_range : ``(low, high)``, the values the model takes for black and white:
        ``(0, 255)`` (hardpos's nets) or ``(0.0, 1.0)`` (torchvision's ``ToTensor``, most
        attack libraries). The model is given ``low + p (high - low) / 255`` for pixel
        values ``p``. uint8 images are always pixel values; float images are in this range.
    mean, std : per-channel (or one) normalisation the model expects on top of its range:
        the model is given ``(x - mean) / std``; images and results stay unnormalised.
    progress : a progress bar of the images attacked (default: when stderr is a terminal).
    max_scale : the cap on the scale s (grey levels of the strongest pixel before
        rounding); a direction not adversarial up to it fails with reason ``max_scale``.
    start, min_growth, max_growth, overshoot : the line search
        (:class:`hardpos.attacks.search.SearchOptions`); every direction starts at its
        free first-order estimate of the crossing, ``start`` only where there is none.
        The defaults take 3.3 (FGS) to 7.1 (HC-D-9) evaluations per direction on LeNet.

    Returns
    -------
    :class:`AttackResult` (unpacks as ``images, table``): one image and one table row
    per (correctly classified source, direction, factor), ordered by source, then
    direction (in the order the methods name them), then factor. Images are uint8 for
    uint8 input, else floats of the input's dtype in ``input_range``, on the 1/255 grid.
    Distances (``l2_per_pixel``, ``linf``, ``step``, ``s_min``) are in grey levels, the
    [0, 255] scale, whatever the input range; a direction without an adversarial up to
    the cap still has its rows, with ``success`` False and ``reason`` saying why.
    """
    options = AttackOptions(
        methods=methods, factors=factors, batch_size=batch_size, device=device,
        forward_batch=forward_batch, input_range=input_range, mean=mean, std=std,
        progress=progress, max_scale=max_scale, start=start, min_growth=min_growth,
        max_growth=max_growth, overshoot=overshoot,
    )  # fmt: skip
    run = _prepare(model, images, labels, options)
    return _assemble(run, list(_iterate(run)))


def _assemble(run: _Run, pieces: list[_Piece]) -> AttackResult:
    """The chunks' pieces as one result, in the caller's dtype and range."""
    misclassified = np.concatenate([np.zeros(0, np.int64), *(p.misclassified for p in pieces)])
    warn_if_mostly_misclassified(run.model, run.pixels.x, run.y, len(misclassified))
    if not any(len(p.table) for p in pieces):
        shape = tuple(run.pixels.x.shape[1:])
        empty = run.pixels.to_caller(np.zeros((0, *shape), dtype=np.uint8))
        return AttackResult(empty, empty_table(), len(run.pixels.x), misclassified)
    images_out = run.pixels.to_caller(np.concatenate([p.images for p in pieces]))
    table = pd.concat([p.table for p in pieces if len(p.table)], ignore_index=True)
    return AttackResult(images_out, table.astype(COLUMNS), len(run.pixels.x), misclassified)


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
    run = _prepare(model, images, labels, AttackOptions.from_keywords(options))
    return ((run.pixels.to_caller(p.images), p.table) for p in _iterate(run))


@dataclass(frozen=True)
class _Run:
    """A checked :func:`generate` call: inputs, directions, factors and search settings."""

    model: PixelModel
    pixels: Pixels
    y: torch.Tensor
    directions: list[Direction]
    factors: list[float]
    search: SearchOptions
    chunk: int
    forward_batch: int
    progress: bool


@dataclass(frozen=True)
class _Piece:
    """One chunk's uint8 images, table, and sources misclassified before the attack."""

    images: np.ndarray
    table: pd.DataFrame
    misclassified: np.ndarray


def _prepare(model, images, labels, options: AttackOptions) -> _Run:
    directions = options.directions()
    factor_list = options.factor_list()
    search = options.search()
    options.check_batches()
    low, high = options.range()
    pixels = as_pixels(images, low, high)
    y = class_labels(labels, len(pixels.x), shape=tuple(images.shape))
    if np.prod(pixels.x.shape[1:]) == 0:
        raise InputError(f"images have no pixels: shape {tuple(pixels.x.shape)}")
    dev = None
    if options.device is not None:
        dev = pick_device(str(options.device))
        if isinstance(model, torch.nn.Module):
            model.to(dev)
    pixel_model = PixelModel(
        model,
        channels=int(pixels.x.shape[1]),
        input_range=(low, high),
        mean=options.mean,
        std=options.std,
        device=dev,
    )
    check_images_fit(pixel_model, pixels.x)
    batch_size = options.batch_size
    if batch_size == "auto":
        batch_size = auto_batch_size(pixel_model, pixels.x[:_PROBE_PAIRS])
    forward_batch = options.forward_batch
    if forward_batch is None:
        on_cpu = model_device(pixel_model).type == "cpu"
        forward_batch = CPU_FORWARD_BATCH if on_cpu else int(batch_size)
    return _Run(
        model=pixel_model,
        pixels=pixels,
        y=y,
        directions=directions,
        factors=factor_list,
        search=search,
        chunk=max(1, int(batch_size) // len(directions)),
        forward_batch=int(forward_batch),
        progress=show_progress(options.progress),
    )


def auto_batch_size(model: PixelModel, sample: np.ndarray) -> int:
    """``batch_size="auto"``: :data:`hardpos.device.CPU_AUTO_BATCH` on the CPU; on CUDA
    the pairs that half the free memory holds, from the peak memory of one forward and
    backward pass on :data:`_PROBE_PAIRS` pairs made of ``sample`` (uint8
    ``[n, C, H, W]``), plus the search's own buffers per pair (direction, image,
    candidate: three float images)."""
    device = model_device(model)
    if device.type != "cuda" or len(sample) == 0:
        return CPU_AUTO_BATCH
    repeats = -(-_PROBE_PAIRS // len(sample))
    probe = torch.as_tensor(np.asarray(sample)).repeat(repeats, 1, 1, 1)[:_PROBE_PAIRS]

    def forward_backward(items: int) -> None:
        # the gradient with respect to the images only, as the directions take it:
        # .backward() would also fill the caller's parameters' .grad
        x = probe[:items].to(device=device, dtype=model.dtype).requires_grad_(True)
        with _eval_mode(model.model):
            torch.autograd.grad(model.logits(x).sum(), x)

    per_pair = peak_bytes_per_item(forward_backward, device, _PROBE_PAIRS)
    per_pair += 3 * probe[0].numel() * torch.finfo(model.dtype).bits // 8
    batch = batch_for_memory(free_memory(device), per_pair)
    log.info("attack batch_size auto: %d pairs (%.0f bytes a pair on %s)", batch, per_pair, device)
    return batch


def _iterate(run: _Run) -> Iterator[_Piece]:
    n = len(run.pixels.x)
    with (
        _eval_mode(run.model.model),
        tqdm(total=n, unit="image", desc="attack", disable=not run.progress) as bar,
    ):
        for begin in range(0, n, run.chunk):
            piece = _generate_chunk(
                run, run.pixels.chunk(begin, begin + run.chunk), run.y[begin : begin + run.chunk],
                offset=begin,
            )  # fmt: skip
            log.info("attacked images %d..%d of %d", begin, min(n, begin + run.chunk), n)
            bar.update(min(n, begin + run.chunk) - begin)
            yield piece


def _chunk_directions(run: _Run, x: torch.Tensor, y: torch.Tensor) -> Directions:
    """The directions of a chunk, ``forward_batch // (gradients per image)`` at a time."""
    model, directions = run.model, run.directions
    dev = model_device(model)
    ranks = {dr.k for dr in directions if dr.k}
    # gradients per image: the loss (FGS, FGV), and h_y plus each hot class (hot/cold)
    gradients = int(any(dr.k == 0 for dr in directions)) + (len(ranks) + 1 if ranks else 0)
    per = max(1, run.forward_batch // gradients)
    parts = [
        compute_directions(model, x[i : i + per].to(dev), y[i : i + per].to(dev), directions)
        for i in range(0, len(x), per)
    ]
    return Directions(
        d=torch.cat([p.d for p in parts]),
        hot=torch.cat([p.hot for p in parts]),
        logits=torch.cat([p.logits for p in parts]),
        first_order=torch.cat([p.first_order for p in parts]),
    )


def _classifier(run: _Run, shape: tuple[int, ...]):
    """Pixel values ``[B, D]`` -> logits, ``forward_batch`` images per pass, no graph."""
    model, dtype, size = run.model, model_dtype(run.model), run.forward_batch

    def classify(pixels: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.cat(
                [
                    model.logits(pixels[i : i + size].to(dtype).view(-1, *shape))
                    for i in range(0, len(pixels), size)
                ]
            )

    return classify


def _generate_chunk(run: _Run, x: torch.Tensor, y: torch.Tensor, *, offset: int) -> _Piece:
    """Attack one chunk of sources: directions, the search of every (image, direction)
    pair, the images at each factor, and their table."""
    dev = model_device(run.model)
    shape = tuple(x.shape[1:])
    n_dir = len(run.directions)
    dirs = _chunk_directions(run, x, y)
    correct = (dirs.logits.argmax(dim=1) == y.to(dev)).cpu()
    keep = torch.nonzero(correct).view(-1)
    misclassified = (torch.nonzero(~correct).view(-1) + offset).numpy().astype(np.int64)
    if len(keep) == 0:
        return _Piece(np.zeros((0, *shape), dtype=np.uint8), empty_table(), misclassified)
    keep_dev = keep.to(dev)
    classify = _classifier(run, shape)
    # pairs in (image, direction) order
    x_pairs = x[keep].to(dev).flatten(1).repeat_interleave(n_dir, dim=0).to(torch.float64)
    d_pairs = dirs.d[keep_dev].flatten(2).flatten(0, 1)
    y_pairs = y[keep].to(dev).repeat_interleave(n_dir)
    logits0 = dirs.logits[keep_dev].repeat_interleave(n_dir, dim=0)
    start = dirs.first_order[keep_dev].reshape(-1)
    result = minimal_scales(classify, x_pairs, d_pairs, y_pairs, logits0, run.search, start=start)
    out = at_factors(result, y_pairs, run.factors, classify)
    hot = dirs.hot[keep_dev].reshape(-1)
    sources = (keep + offset).numpy()
    table = factor_rows(run.directions, run.factors, sources, y_pairs, hot, result, out)
    images = out.pixels.round().clamp(0, 255).to(torch.uint8).view(-1, *shape).cpu().numpy()
    return _Piece(images, table.astype(COLUMNS), misclassified)


def generate_to_files(
    model: torch.nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    out_images: str | os.PathLike,
    out_table: str | os.PathLike,
    device: str | torch.device | None = "auto",
    columns: dict[str, object] | None = None,
    **options,
) -> pd.DataFrame:
    """:func:`generate` on ``model``, writing the images
    (:func:`hardpos.files.images.image_writer`, one chunk at a time: memory does not grow
    with the number of images) and the table (Parquet, with the constant ``columns``
    added, e.g. the net), atomically. ``options`` are :func:`generate`'s keywords; the
    images are written as uint8 pixel values whatever the input range. Returns the table."""
    dev = pick_device(None if device is None else str(device))
    if isinstance(model, torch.nn.Module):
        model = model.to(dev).eval()
    run = _prepare(model, images, labels, AttackOptions.from_keywords({**options, "device": dev}))
    tables: list[pd.DataFrame] = []
    misclassified = 0
    with image_writer(out_images, run.pixels.x.shape[1:]) as out:
        for piece in _iterate(run):
            out.append(piece.images)
            misclassified += len(piece.misclassified)
            if len(piece.table):
                tables.append(piece.table)
            if len(tables) == TABLE_MERGE:  # a frame costs ~30 KB beyond its rows
                tables = [pd.concat(tables, ignore_index=True)]
    table = pd.concat(tables, ignore_index=True) if tables else empty_table()
    del tables
    log.info(
        "%d sources: %d attacked, %d misclassified before the attack (not attacked)",
        len(run.pixels.x), len(run.pixels.x) - misclassified, misclassified,
    )  # fmt: skip
    warn_if_mostly_misclassified(run.model, run.pixels.x, run.y, misclassified)
    for name, value in (columns or {}).items():
        table[name] = value
    save_table(out_table, table)
    return table
