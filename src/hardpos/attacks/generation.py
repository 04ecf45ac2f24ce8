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
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from hardpos.attacks.classifier import LEVELS, PixelModel, model_device, model_dtype
from hardpos.attacks.directions import Directions, compute_directions
from hardpos.attacks.methods import Direction
from hardpos.attacks.options import DEFAULTS, AttackOptions
from hardpos.attacks.search import REASONS, SearchOptions, SearchResult, minimal_scales
from hardpos.errors import InputError

log = logging.getLogger(__name__)

CPU_FORWARD_BATCH = 256
_PROBE_PAIRS = 256  # pairs of the forward and backward pass that measures memory per pair
# generate_to_files merges its chunks' tables every this many chunks
TABLE_MERGE = 64
# float pixels further than this from the 1/255 grid (in grey levels) are reported
GRID_TOLERANCE = 1e-3

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


@dataclass
class AttackResult:
    """What :func:`generate` returns; unpacks like the pair ``images, table``.

    ``images``: ``[M, C, H, W]``, one per table row, in the caller's dtype and range.
    ``table``: one row per (attacked source, direction, factor), columns :data:`COLUMNS`.
    ``sources``: images given; ``misclassified``: indices of the sources the model did
    not classify as their label before the attack (not attacked, no rows); every other
    source is attacked and has rows.
    """

    images: np.ndarray
    table: pd.DataFrame
    sources: int
    misclassified: np.ndarray

    def __iter__(self):
        return iter((self.images, self.table))

    def __getitem__(self, index):
        return (self.images, self.table)[index]

    def __len__(self) -> int:
        return 2

    @property
    def attacked(self) -> int:
        return self.sources - len(self.misclassified)

    @property
    def summary(self) -> dict[str, int]:
        """Counts: sources given, attacked, misclassified before the attack, table rows,
        successful rows."""
        return {
            "sources": self.sources,
            "attacked": self.attacked,
            "misclassified": len(self.misclassified),
            "rows": len(self.table),
            "successes": int(self.table["success"].sum()),
        }


@dataclass(frozen=True)
class _Pixels:
    """The images as the search sees them: uint8 pixel values ``[N, C, H, W]`` (numpy,
    perhaps a read-only memory map read per chunk, or a tensor), and how to give the
    results back: ``dtype`` of the caller (None: uint8) and its range."""

    x: np.ndarray | torch.Tensor
    dtype: torch.dtype | None
    low: float
    high: float

    def chunk(self, begin: int, end: int) -> torch.Tensor:
        part = self.x[begin:end]
        return part if isinstance(part, torch.Tensor) else torch.from_numpy(np.array(part))

    def to_caller(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixel values as the caller's images: ``low + p (high - low) / 255``,
        computed in the caller's dtype (for [0, 1]: ``p / 255``, as torchvision does)."""
        if self.dtype is None:
            return pixels
        dtype = self.dtype if self.dtype != torch.bfloat16 else torch.float32
        x = torch.from_numpy(pixels).to(dtype)
        return (x * (self.high - self.low) / LEVELS + self.low).numpy()


def _nchw(images):
    x = images if isinstance(images, torch.Tensor) else np.asarray(images)
    x = x[:, None] if x.ndim == 3 else x
    if x.ndim != 4:
        raise InputError(
            f"images must be [N, H, W] or [N, C, H, W]; got shape {tuple(images.shape)}"
        )
    return x


def _pixels(images, low: float, high: float) -> _Pixels:
    """``images`` as uint8 pixel values without a copy where they are uint8 already (a
    memory map stays one); float images in [low, high] are brought to the 1/255 grid."""
    if not isinstance(images, np.ndarray | torch.Tensor):
        raise InputError(
            f"images must be a uint8 or float array or tensor; got {type(images).__name__}"
        )
    x = _nchw(images)
    if x.dtype in (np.uint8, torch.uint8):
        return _Pixels(x, None, low, high)
    floating = x.is_floating_point() if isinstance(x, torch.Tensor) else x.dtype.kind == "f"
    if not floating:
        raise InputError(
            f"images must be uint8 pixel values in [0, 255] or floats in input_range "
            f"[{low:g}, {high:g}]; got {x.dtype}"
        )
    caller = x.dtype if isinstance(x, torch.Tensor) else torch.from_numpy(x[:0].copy()).dtype
    if isinstance(x, torch.Tensor):
        t = x.detach().to(device="cpu", dtype=torch.float64)
    else:  # a copy: a read-only memory map must not become a tensor
        t = torch.from_numpy(np.array(x, dtype=np.float64))
    if t.numel():
        smallest, largest = float(t.min()), float(t.max())
        span = (high - low) / LEVELS / 2
        if not (np.isfinite(smallest) and np.isfinite(largest)) or (
            smallest < low - span or largest > high + span
        ):
            raise InputError(
                f"images hold values in [{smallest:g}, {largest:g}] but input_range is "
                f"[{low:g}, {high:g}]: give input_range=(low, high) of the images (e.g. "
                "(0, 1) for torchvision's ToTensor), or uint8 pixel values"
            )
    levels = (t - low) * (LEVELS / (high - low))
    rounded = levels.round().clamp_(0, LEVELS)
    off = float((levels - rounded).abs().max()) if t.numel() else 0.0
    if off > GRID_TOLERANCE:
        warnings.warn(
            f"images are not on the 1/255 grid of input_range [{low:g}, {high:g}] (up to "
            f"{off:.3f} grey levels off): rounded to it, the attack's discrete images",
            stacklevel=4,
        )
    return _Pixels(rounded.to(torch.uint8).numpy(), caller, low, high)


def pixel_values(images, low: float, high: float) -> np.ndarray | torch.Tensor:
    """``images`` as the attacks see them (and fine-tuning trains on them): uint8 pixel
    values ``[N, C, H, W]``; float images in ``[low, high]`` put on the 1/255 grid."""
    return _pixels(images, low, high).x


def class_labels(labels, n: int) -> torch.Tensor:
    """``labels`` as int64 class ids, one per image, checked (:func:`generate`'s check)."""
    return _labels(labels, n)


def _labels(labels, n: int) -> torch.Tensor:
    y = torch.as_tensor(np.asarray(labels))
    if y.ndim != 1 or len(y) != n:
        raise InputError(
            f"labels must be one class id per image: {n} images but labels of shape "
            f"{tuple(y.shape)}"
        )
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise InputError(f"labels must be integers; got {y.dtype}")
    return y.to(torch.int64)


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


def _show_progress(progress: bool | None) -> bool:
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
        ``"auto"``: 4096 on the CPU; on CUDA as many as half the device's free memory
        holds, measured by one forward and backward pass of the model (at most 65,536).
    device : where the model runs (``"auto"``: CUDA when present; default: where its
        parameters are).
    forward_batch : at most this many images per forward pass (default: 256 on the CPU,
        where larger batches fall out of the caches and run up to 3x slower per image;
        ``batch_size`` elsewhere). Directions are computed for
        ``forward_batch // (gradients per image)`` images at a time.
    input_range : ``(low, high)``, the values the model takes for black and white:
        ``(0, 255)`` (hardpos's nets) or ``(0.0, 1.0)`` (torchvision's ``ToTensor``, most
        attack libraries). The model is given ``low + p (high - low) / 255`` for pixel
        values ``p``. uint8 images are always pixel values; float images are in this range.
    mean, std : per-channel (or one) normalisation the model expects on top of its range,
        applied inside: the model is given ``(x - mean) / std``. Images and results stay
        unnormalised.
    progress : a progress bar on stderr (images attacked; default: when stderr is a
        terminal).
    max_scale : the cap on the scale s (grey levels of the strongest pixel before
        rounding); a direction not adversarial up to it fails with reason ``max_scale``.
    start, min_growth, max_growth, overshoot : the line search
        (:class:`hardpos.attacks.search.SearchOptions`); every direction starts at its
        free first-order estimate of the crossing, ``start`` only where there is none.
        The defaults take 3.3 (FGS) to 7.1 (HC-D-9) evaluations per direction on LeNet.

    Which layer the directions come from: FGS and FGV backpropagate the cross-entropy
    of the logits, and hot/cold (eq. 7) backpropagates its feature vector from the
    logits, the model's output h(x). The paper's B_l operator for another layer ``l``
    is :func:`hardpos.attacks.feature_direction`, which takes the output of a module
    named as in ``model.named_modules()`` with a forward hook; to attack from a layer,
    give ``model`` a ``logits`` method (or wrap it in a module whose ``forward``)
    returning that layer's scores, e.g. the features of a penultimate layer followed by
    your own head.

    Returns
    -------
    :class:`AttackResult`, which unpacks as ``images, table``:

    images : ``[M, C, H, W]``, one per table row: uint8 for uint8 input, else floats of
        the input's dtype in ``input_range``, every value on the 1/255 grid.
    table : one row per (correctly classified source, direction, factor), ordered by
        source, then direction (in the order the methods name them), then factor; columns
        :data:`COLUMNS` (``l2_per_pixel``, ``linf``, ``step`` and ``s_min`` in grey levels,
        the [0, 255] scale, whatever the input range). A direction without an adversarial
        up to the cap still has its rows: ``success`` False, ``s_min`` NaN, ``step`` the
        largest scale tried, the image the one at that scale (classified as the label),
        ``reason`` saying why. For ``factor != 1`` ``success`` means the scaled image is
        still misclassified (``reason`` ``not_misclassified`` otherwise).

    The result's ``summary`` counts the sources, the attacked ones and the misclassified
    ones; every correctly classified source has its rows.
    """
    options = AttackOptions(
        methods=methods, factors=factors, batch_size=batch_size, device=device,
        forward_batch=forward_batch, input_range=input_range, mean=mean, std=std,
        progress=progress, max_scale=max_scale, start=start, min_growth=min_growth,
        max_growth=max_growth, overshoot=overshoot,
    )  # fmt: skip
    run = _prepare(model, images, labels, options)
    pieces = list(_iterate(run))
    misclassified = np.concatenate([np.zeros(0, np.int64), *(p.misclassified for p in pieces)])
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
    pixels: _Pixels
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
    pixels = _pixels(images, low, high)
    y = _labels(labels, len(pixels.x))
    if np.prod(pixels.x.shape[1:]) == 0:
        raise InputError(f"images have no pixels: shape {tuple(pixels.x.shape)}")
    dev = None
    if options.device is not None:
        from hardpos.device import pick_device

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
        progress=_show_progress(options.progress),
    )


def check_images_fit(model: PixelModel, x: np.ndarray | torch.Tensor) -> None:
    """One image through the model before any search: images of the wrong layout or size
    (channels last, three channels for a one-channel net, 32x32 for a 28x28 one) get one
    line naming the shape they have and the one expected, not a torch traceback."""
    if not len(x):
        return
    one = x[:1] if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x[:1]))
    try:
        with torch.no_grad():
            model.logits(one.to(model_device(model)))
    except torch.OutOfMemoryError:
        raise
    except InputError:
        return  # the images fit; the model's output does not: the run names it, all images
    except (RuntimeError, ValueError) as exc:
        shape = tuple(x.shape)
        first = str(exc).strip().splitlines()[0]
        hint = ""
        if len(shape) == 4 and shape[3] in (1, 3) and shape[1] not in (1, 3):
            hint = ("; these look channels-last [N, H, W, C]: give [N, C, H, W], e.g. "
                    "images.transpose(0, 3, 1, 2)")  # fmt: skip
        raise InputError(
            f"images of shape {shape} do not fit the model ({first}); expected [N, C, H, W] "
            f"(or [N, H, W] for one channel) with the channels and size the model takes{hint}"
        ) from None


def auto_batch_size(model: PixelModel, sample: np.ndarray) -> int:
    """``batch_size="auto"``: :data:`hardpos.device.CPU_AUTO_BATCH` on the CPU; on CUDA
    the pairs that half the free memory holds, from the peak memory of one forward and
    backward pass on :data:`_PROBE_PAIRS` pairs made of ``sample`` (uint8
    ``[n, C, H, W]``), plus the search's own buffers per pair (direction, image,
    candidate: three float images)."""
    from hardpos.device import CPU_AUTO_BATCH, batch_for_memory, free_memory, peak_bytes_per_item

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
    from tqdm.auto import tqdm

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


@dataclass(frozen=True)
class _Returned:
    """The images at ``factor * s_min`` of each (pair, factor), in that order."""

    step: torch.Tensor
    pixels: torch.Tensor  # float64 [R, D], integral
    x: torch.Tensor  # the originals, one per row
    adv_label: torch.Tensor
    success: torch.Tensor
    reason: np.ndarray


def _at_factors(
    result: SearchResult, labels: torch.Tensor, factors: list[float], classify
) -> _Returned:
    """Scale each pair's s_min by the factors; scaled images of successful pairs
    (factor != 1) get their own evaluation."""
    n_fac = len(factors)
    n_pairs = len(result.scale)
    dev = result.scale.device
    fac = torch.tensor(factors, dtype=torch.float64, device=dev)
    ok = result.success
    step = torch.where(ok.view(-1, 1), result.scale.view(-1, 1) * fac, result.scale.view(-1, 1))
    rows = torch.arange(n_pairs, device=dev).repeat_interleave(n_fac)
    grid = result.grid.take(rows) if n_fac > 1 else result.grid
    pixels = grid.image(grid.levels(step.reshape(-1)))
    adv_logits = result.logits.repeat_interleave(n_fac, dim=0)
    fresh = ok.repeat_interleave(n_fac) & (fac != 1.0).repeat(n_pairs)
    if bool(fresh.any()):
        adv_logits[fresh] = classify(pixels[fresh]).to(torch.float64)
    adv_label = adv_logits.argmax(dim=1)
    success = adv_label != labels.repeat_interleave(n_fac)
    reason = np.asarray(REASONS, dtype=object)[result.reason.cpu().numpy()]
    reason = np.repeat(reason, n_fac)
    reverted = (ok.repeat_interleave(n_fac) & ~success).cpu().numpy()
    reason[reverted] = "not_misclassified"
    return _Returned(step.reshape(-1), pixels, grid.x, adv_label, success, reason)


def _table(
    run: _Run,
    sources: np.ndarray,
    labels: torch.Tensor,
    hot: torch.Tensor,
    result: SearchResult,
    out: _Returned,
) -> pd.DataFrame:
    """The chunk's rows: (source, direction, factor) in that order."""
    directions, factors = run.directions, run.factors
    n_img, n_dir, n_fac = len(sources), len(directions), len(factors)
    diff = out.pixels - out.x
    m = diff.shape[1]
    l2 = diff.square().sum(dim=1).sqrt() / max(m, 1)
    linf = diff.abs().amax(dim=1) if m else torch.zeros(len(diff), dtype=torch.float64)
    hot_rows = hot.repeat_interleave(n_fac)
    ok = result.success
    return pd.DataFrame(
        {
            "source": np.repeat(sources, n_dir * n_fac),
            "label": labels.repeat_interleave(n_fac).cpu().numpy(),
            "method": np.tile(np.repeat([dr.method for dr in directions], n_fac), n_img),
            "k": np.tile(np.repeat([dr.k for dr in directions], n_fac), n_img),
            "hot": hot_rows.cpu().numpy(),
            "factor": np.tile(np.asarray(factors, dtype=np.float64), n_img * n_dir),
            "step": out.step.cpu().numpy(),
            "s_min": torch.where(ok, result.scale, torch.nan)
            .repeat_interleave(n_fac)
            .cpu()
            .numpy(),
            "adv_label": out.adv_label.cpu().numpy(),
            "hot_reached": (out.adv_label == hot_rows).cpu().numpy(),
            "l2_per_pixel": l2.cpu().numpy(),
            "linf": linf.cpu().numpy(),
            "success": out.success.cpu().numpy(),
            "reason": out.reason,
            "evals": result.evals.repeat_interleave(n_fac).cpu().numpy(),
        }
    )


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
    out = _at_factors(result, y_pairs, run.factors, classify)
    hot = dirs.hot[keep_dev].reshape(-1)
    table = _table(run, (keep + offset).numpy(), y_pairs, hot, result, out)
    images = out.pixels.round().clamp(0, 255).to(torch.uint8).view(-1, *shape).cpu().numpy()
    return _Piece(images, table.astype(COLUMNS), misclassified)


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
    from hardpos.device import pick_device
    from hardpos.files.images import image_writer
    from hardpos.files.parquet import save_table

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
    for name, value in (columns or {}).items():
        table[name] = value
    save_table(out_table, table)
    return table
