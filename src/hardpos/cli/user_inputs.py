"""A user's own model and images for ``hardpos attack``.

Models: a hardpos model file (LeNet or ImageNet net with its JSON sidecar), a TorchScript
file (``torch.jit.save``), or ``package.module:factory`` naming a callable that returns
the ``torch.nn.Module``, with its weights (a state dict saved by ``torch.save``) from
``--weights``. Images: an ``.npz`` with arrays ``images`` and ``labels``, or a folder of
PNG/JPEG files with their labels in a CSV file (columns ``file,label``).
"""

from __future__ import annotations

import csv
import importlib
import os
import sys
from pathlib import Path

import numpy as np

from hardpos.errors import InputError
from hardpos.files.checksums import verify_if_zip
from hardpos.files.sidecars import sidecar_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def load_user_model(spec: str, weights: str | None, device):
    """The model ``--model spec`` (``--weights``) names, on ``device``, in eval mode."""
    import torch

    path = Path(spec)
    if weights is not None or (":" in spec and not path.exists()):
        return _from_factory(spec, weights, device)
    if not path.is_file():
        raise InputError(f"--model {spec}: no such file (or give package.module:factory)")

    if not sidecar_path(path).is_file():
        try:
            return torch.jit.load(str(path), map_location=device).eval()
        except (RuntimeError, ValueError):
            pass  # not TorchScript: a hardpos LeNet file without its sidecar, or nothing
    from hardpos.experiments.models import load_model

    try:
        return load_model(path, device).eval()
    except Exception as exc:
        raise InputError(
            f"--model {spec}: neither a TorchScript file (torch.jit.save) nor a hardpos model "
            f"file ({exc}); for a module defined in Python give package.module:factory "
            "--weights FILE.pt"
        ) from None


def _from_factory(spec: str, weights: str | None, device):
    import torch

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InputError(f"--model {spec!r}: expected package.module:factory")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # modules beside the user, as python -m finds them
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"--model {spec}: cannot import {module_name} ({exc})") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise InputError(f"--model {spec}: {module_name} has no callable {attr!r}")
    model = factory()
    if not isinstance(model, torch.nn.Module):
        raise InputError(
            f"--model {spec}: {attr}() returned a {type(model).__name__}, not a torch.nn.Module"
        )
    if weights is not None:
        if not Path(weights).is_file():
            raise InputError(f"--weights {weights}: no such file")

        verify_if_zip(weights, error=InputError)  # torch.load reads damaged bytes silently
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise InputError(f"--weights {weights}: not a torch.save file ({exc})") from None
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise InputError(
                f"--weights {weights} do not fit {spec}: {str(exc).splitlines()[0]}"
            ) from None
    return model.to(device).eval()


def load_image_folder(folder: str | os.PathLike, labels_csv: str | os.PathLike | None):
    """uint8 ``[N, C, H, W]`` (RGB, or one channel for greyscale files) and int64 labels.

    The CSV (default ``FOLDER/labels.csv``) lists ``file,label`` with a header; files are
    relative to the folder and read in the CSV's order. All images must share one size.
    """
    import cv2

    folder = Path(folder)
    table = Path(labels_csv) if labels_csv else folder / "labels.csv"
    if not table.is_file():
        raise InputError(
            f"{table}: no labels file; a folder of images needs a CSV with columns file,label "
            "(--labels)"
        )
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise InputError(f"{table}: expected a header with columns file,label")
    _check_every_image_listed(folder, table, rows)
    images, labels = [], []
    for line, row in enumerate(rows, start=2):
        path = folder / row["file"]
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f"{table} line {line}: {row['file']} is not a PNG or JPEG file")
        try:
            labels.append(int(row["label"]))
        except (TypeError, ValueError):
            raise InputError(
                f"{table} line {line}: label {row['label']!r} is not an integer"
            ) from None
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise InputError(f"{path}: missing or not a readable image")
        if image.dtype != np.uint8:
            raise InputError(f"{path}: expected 8-bit pixels, got {image.dtype}")
        if image.ndim == 3 and image.shape[2] == 4:
            raise InputError(f"{path}: has an alpha channel; save it as RGB or greyscale")
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
        else:
            image = image[None]
        if images and image.shape != images[0].shape:
            raise InputError(
                f"{path}: shape {image.shape} (C, H, W) differs from the first image's "
                f"{images[0].shape}; resize them to one size first"
            )
        images.append(image)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def _check_every_image_listed(folder: Path, table: Path, rows: list[dict]) -> None:
    """An image in the folder that the CSV does not list would be left out unseen (a
    dropped line, a renamed file): refuse, naming the files."""
    listed = {(folder / row["file"]).resolve() for row in rows if row.get("file")}
    unlisted = sorted(
        path.name
        for path in folder.iterdir()
        if path.suffix.lower() in IMAGE_SUFFIXES and path.resolve() not in listed
    )
    if unlisted:
        more = f" and {len(unlisted) - 5} more" if len(unlisted) > 5 else ""
        raise InputError(
            f"{table} lists no label for {', '.join(unlisted[:5])}{more} in {folder}: add a "
            "file,label line for each image, or move the images not to attack elsewhere"
        )
