"""Checks of command-line options that fail before any work starts, with the option named.

A run that would end in a torch traceback after minutes of work (``--device cuda`` on a
machine without a GPU, ``--out`` in a folder it cannot write) is refused while the
arguments are parsed or before the first image is read.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from pathlib import Path

from hardpos.errors import InputError

_DEVICE = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


def positive_int(text: str) -> int:
    """A count of at least one (iterations, batch sizes): argparse names the option."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: expected a count of at least 1")
    return value


def device_option(text: str) -> str:
    """``--device``: auto, cpu, cuda or cuda:N, the last two only where that GPU is visible.

    An argparse ``type``: the refusal is a usage error naming the option."""
    match = _DEVICE.match(text.strip().lower())
    if match is None or (match[2] is not None and match[1] != "cuda"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a device hardpos runs on; expected auto, cpu, cuda or cuda:N"
        )
    if match[1] == "cuda":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(match[2] or 0)
        if count == 0:
            raise argparse.ArgumentTypeError(
                f"{text!r}: no CUDA GPU is visible on this machine (torch.cuda.is_available() "
                "is false); use --device cpu, or auto to take a GPU only where there is one"
            )
        if index >= count:
            raise argparse.ArgumentTypeError(
                f"{text!r}: this machine shows {count} CUDA GPU(s), numbered 0..{count - 1}"
            )
    return text.strip().lower()


def writable_folder(path: str | os.PathLike, *, option: str = "--out") -> Path:
    """Create the output folder ``path`` if needed and prove a file can be written in it,
    so a run does not fail at its last step."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(
            f"{option} {path}: exists and is not a folder ({option} names the folder to "
            "write into); give a new or existing folder"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write there ({exc.strerror})") from None
    return path


def writable_file(path: str | os.PathLike, *, option: str = "--out") -> Path:
    """An output file's folder must be writable and the name must not be a folder."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; {option} names the file to write")
    writable_folder(path.parent if str(path.parent) else Path("."), option=f"{option}'s folder")
    return path


def add_download_option(parser: argparse.ArgumentParser) -> None:
    """``--download``, for each command that reads an MNIST folder."""
    parser.add_argument(
        "--download", action="store_true", help="fetch MNIST into --mnist-dir when it is absent"
    )


def download_options(args: argparse.Namespace) -> dict[str, object]:
    """:func:`hardpos.mnist.idx.load_mnist`'s download arguments from the command line: a
    missing MNIST folder's message then names ``--download``, not the workflow's key."""
    return {"download": args.download, "download_hint": "add --download"}
