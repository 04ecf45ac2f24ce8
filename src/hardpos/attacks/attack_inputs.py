"""Images and labels as the attacks take them: uint8 pixel values ``[N, C, H, W]`` on the
paper's 1/255 grid, and one integer class id an image, checked before any search so that a
user's mistake gets one line naming what was expected."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from hardpos.attacks.classifier import LEVELS, PixelModel, model_device
from hardpos.errors import InputError

# float pixels further than this from the 1/255 grid (in grey levels) are reported
GRID_TOLERANCE = 1e-3
# images the input checks run through the model
PROBE = 64
# the input ranges models are usually trained on, tried when most sources come out wrong
USUAL_RANGES = ((0.0, 1.0), (0.0, 255.0), (-1.0, 1.0))


@dataclass(frozen=True)
class Pixels:
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


def as_pixels(images, low: float, high: float) -> Pixels:
    """``images`` as uint8 pixel values without a copy where they are uint8 already (a
    memory map stays one); float images in [low, high] are brought to the 1/255 grid."""
    if not isinstance(images, np.ndarray | torch.Tensor):
        raise InputError(
            f"images must be a uint8 or float array or tensor; got {type(images).__name__}"
        )
    x = _nchw(images)
    if x.dtype in (np.uint8, torch.uint8):
        return Pixels(x, None, low, high)
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
    return Pixels(rounded.to(torch.uint8).numpy(), caller, low, high)


def pixel_values(images, low: float, high: float) -> np.ndarray | torch.Tensor:
    """``images`` as the attacks see them (and fine-tuning trains on them): uint8 pixel
    values ``[N, C, H, W]``; float images in ``[low, high]`` put on the 1/255 grid."""
    return as_pixels(images, low, high).x


def class_labels(labels, n: int, *, shape: tuple[int, ...] = ()) -> torch.Tensor:
    """``labels`` as int64 class ids, one per image, checked (:func:`generate`'s check).

    ``shape``: the images' shape as given; a single image ``[C, H, W]`` with its one label
    reads as C one-channel images, and the message says so instead of counting them."""
    y = torch.as_tensor(np.asarray(labels))
    if y.ndim != 1 or len(y) != n:
        if len(shape) == 3 and y.numel() == 1:
            raise InputError(
                f"images of shape {shape} with one label: [N, H, W] reads them as {n} "
                f"one-channel images; one image [C, H, W] needs its batch axis: [1, C, H, W] "
                "(images[None])"
            )
        raise InputError(
            f"labels must be one class id per image: {n} images but labels of shape "
            f"{tuple(y.shape)}"
        )
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise InputError(f"labels must be integers; got {y.dtype}")
    return y.to(torch.int64)


def check_images_fit(model: PixelModel, x: np.ndarray | torch.Tensor) -> None:
    """One image through the model before any search: images of the wrong layout or size
    (channels last, three channels for a one-channel net, 32x32 for a 28x28 one) get one
    line naming the shape they have and the one expected, not a torch traceback."""
    if not len(x):
        return
    one = x[:PROBE] if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x[:PROBE]))
    try:
        with torch.no_grad():
            out = model.logits(one.to(model_device(model)))
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
    if _probabilities(out):
        warnings.warn(
            "the model's outputs are non-negative and sum to 1 for each image: probabilities "
            "(a softmax at its end), not the logits the attacks expect (hot/cold weighs the "
            "logits; FGS/FGV's cross-entropy would take a softmax of the softmax, whose "
            "gradient nearly vanishes): give the model without its final softmax",
            stacklevel=4,
        )


def _probabilities(out: torch.Tensor) -> bool:
    """Whether the outputs for the probe images look like a softmax's: non-negative, each
    row summing to 1, and not the same row for every image (a model that ignores its input,
    or a single image, tells nothing)."""
    if len(out) < 2 or bool((out == out[:1]).all()) or not bool((out >= 0).all()):
        return False
    return float((out.sum(1) - 1).abs().max()) < 1e-4


def warn_if_mostly_misclassified(
    model: PixelModel, x: np.ndarray | torch.Tensor, y: torch.Tensor, misclassified: int
) -> None:
    """Say so when more than half of ten or more sources were misclassified before any
    attack (they are not attacked), and which input range the model fares better with.

    Why half: a model worth attacking is right on most images of its task (chance on 10
    classes leaves 90% wrong), so most wrong points to inputs it does not expect (a
    0..255 net given 0..1: every image near black) rather than to a poor model; fewer
    than ten sources are too few to tell. The probe tries the usual ranges on the first
    :data:`PROBE` sources."""
    n = len(x)
    if n < 10 or misclassified <= n / 2:
        return
    probe = x[:PROBE] if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x[:PROBE]))
    probe, labels = probe.to(model_device(model)), y[:PROBE].to(model_device(model))
    right = {}
    for low, high in dict.fromkeys([(model.low, model.high), *USUAL_RANGES]):
        with torch.no_grad():
            guess = model.with_input_range(low, high).logits(probe).argmax(1)
        right[(low, high)] = int((guess == labels).sum())
    best = max(right, key=right.get)
    hint = ""
    if right[best] > right[(model.low, model.high)]:
        given = ",".join(f"{v:g}" for v in best)
        hint = (f" With input_range ({given}) it classifies {right[best]} of the first "
                f"{len(probe)} correctly: give that range (--input-range {given}).")  # fmt: skip
    warnings.warn(
        f"{misclassified} of {n} source images are misclassified by the model before any "
        f"attack and were not attacked: is input_range [{model.low:g}, {model.high:g}] "
        f"(--input-range on the command line), and the mean and std if any, what the model "
        f"takes?{hint}",
        stacklevel=3,
    )
