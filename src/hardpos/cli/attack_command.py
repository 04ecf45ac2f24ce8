"""``hardpos attack``: minimal adversarials and hard positives of a set of images.

Writes ``OUT/images.npz`` (uint8 ``[M, C, H, W]``, :func:`hardpos.files.images.image_writer`: a
chunk at a time, so the set need not fit in memory; a dataset file is memory-mapped) and
``OUT/table.parquet`` (one row per image, :data:`hardpos.attacks.COLUMNS`; ``--csv`` also
as CSV), and prints a JSON summary: sources, attacked, misclassified before the attack,
and per method and factor the success rate, failures, median L2 per pixel and L-infinity.

The model (``--model``) is a hardpos model file, a TorchScript file, or
``package.module:factory`` with ``--weights FILE.pt`` (see
:mod:`hardpos.cli.user_inputs`); ``--input-range``, ``--mean`` and ``--std`` say what
input it expects. The images come from an MNIST folder (``--mnist-dir DIR --split
test``), an ``.npz`` dataset with arrays ``images`` (uint8 ``[N, H, W]`` or
``[N, C, H, W]``, or floats in the input range) and ``labels`` (int ``[N]``), as written by
:func:`hardpos.files.datasets.save_dataset` (``--images FILE.npz``), or a folder of
PNG/JPEG files with a CSV of ``file,label`` (``--images DIR --labels FILE.csv``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

from hardpos.attacks.options import DEFAULTS, check_factors
from hardpos.cli.argument_checks import (
    add_download_option,
    device_option,
    download_options,
    writable_file,
    writable_folder,
)
from hardpos.cli.user_inputs import load_image_folder, load_user_model
from hardpos.errors import InputError
from hardpos.experiments.attack_options import check_methods
from hardpos.files.atomic import atomic_path
from hardpos.files.datasets import load_dataset
from hardpos.mnist.idx import load_mnist

log = logging.getLogger(__name__)


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 1.0,1.05; got {text!r}"
        ) from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "attack",
        help="generate minimal adversarials and hard positives (FGS, FGV, hot/cold)",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--model",
        required=True,
        help="a hardpos model file, a TorchScript file, or package.module:factory "
        "(a callable returning the torch.nn.Module; weights from --weights)",
    )
    p.add_argument("--weights", help="state dict (torch.save) for --model package.module:factory")
    p.add_argument(
        "--input-range",
        type=_floats,
        default=list(DEFAULTS.input_range),
        help="the model's input for black and white, e.g. 0,1 for a torchvision-style model",
    )
    p.add_argument("--mean", type=_floats, help="per-channel mean the model subtracts first")
    p.add_argument("--std", type=_floats, help="per-channel std the model divides by")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--mnist-dir", help="folder with the MNIST IDX files")
    source.add_argument(
        "--images", help=".npz with arrays images and labels, or a folder of PNG/JPEG files"
    )
    p.add_argument("--labels", help="CSV file,label for --images DIR (default DIR/labels.csv)")
    p.add_argument("--split", default="test", choices=["train", "test"], help="MNIST split")
    add_download_option(p)
    p.add_argument(
        "--methods",
        default=",".join(DEFAULTS.methods),
        help="comma-separated: fgs, fgv, hc-d-K, hc-s-K (ranks 1..K), hc-d-kR (rank R)",
    )
    p.add_argument(
        "--factors",
        type=_floats,
        default=list(DEFAULTS.factors),
        help="hard-positive factors, each >= 1",
    )
    p.add_argument(
        "--allow-shrink",
        action="store_true",
        help="accept factors below 1 (images between the original and the minimal adversarial)",
    )
    p.add_argument("--limit", type=int, help="attack only the first N images")
    p.add_argument(
        "--batch-size", type=int, default=DEFAULTS.batch_size, help="pairs searched together"
    )
    p.add_argument("--max-scale", type=float, default=DEFAULTS.max_scale, help="cap on the scale s")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's own choice)")
    p.add_argument("--device", type=device_option, default="auto", help="cpu, cuda, cuda:N or auto")
    p.add_argument(
        "--progress",
        choices=["auto", "on", "off"],
        default="auto",
        help="progress bar on stderr (auto: when stderr is a terminal)",
    )
    p.add_argument("--csv", help="also write the table as CSV to this file")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier result in --out (refused without it)")  # fmt: skip


def _images(args: argparse.Namespace):
    if args.mnist_dir:
        images, labels = load_mnist(args.mnist_dir, args.split, **download_options(args))
        return images, labels, f"{args.mnist_dir} ({args.split})"
    if args.download:
        raise InputError("--download fetches MNIST into --mnist-dir; --images needs no download")
    if Path(args.images).is_dir():
        return (*load_image_folder(args.images, args.labels), args.images)
    if args.labels:
        raise InputError(f"--labels is for --images DIR (a folder); {args.images} is a file")
    return (*load_dataset(args.images), args.images)


def run(args: argparse.Namespace) -> int:
    import torch

    from hardpos.attacks import generate_to_files, summarize
    from hardpos.device import pick_device

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.limit is not None and args.limit < 0:
        raise InputError(f"--limit must be at least 0; got {args.limit}")
    if len(args.input_range) != 2:
        raise InputError(f"--input-range must be two numbers low,high; got {args.input_range}")
    # the checks the workflow config gets too, before any image is read
    check_factors(args.factors, allow_shrink=args.allow_shrink, where="--factors")
    check_methods(args.methods, where="--methods")
    out = writable_folder(args.out, option="--out")
    earlier = [name for name in ("images.npz", "table.parquet") if (out / name).exists()]
    if earlier and not args.overwrite:
        raise InputError(f"--out {out} holds an earlier result ({', '.join(earlier)}): give "
                         "--overwrite to replace it, or another --out")  # fmt: skip
    if args.csv:
        writable_file(args.csv, option="--csv")
    images, labels, where = _images(args)
    if args.limit is not None:
        images, labels = images[: args.limit], labels[: args.limit]
    log.info("attacking %d images from %s", len(images), where)
    device = pick_device(args.device)
    model = load_user_model(args.model, args.weights, device)
    check_methods(args.methods, classes=getattr(model, "num_classes", None), where="--methods")
    table = generate_to_files(
        model,
        images,
        labels,
        methods=args.methods,
        factors=args.factors,
        out_images=out / "images.npz",
        out_table=out / "table.parquet",
        device=device,
        batch_size=args.batch_size,
        max_scale=args.max_scale,
        input_range=tuple(args.input_range),
        mean=args.mean,
        std=args.std,
        progress={"auto": None, "on": True, "off": False}[args.progress],
    )
    if args.csv:
        with atomic_path(args.csv) as tmp:
            table.to_csv(tmp, index=False)
    attacked = int(table["source"].nunique())
    report = {
        "images": str(out / "images.npz"),
        "table": str(out / "table.parquet"),
        "sources": len(images),
        "attacked": attacked,
        "misclassified": len(images) - attacked,
        "rows": len(table),
        "summary": [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in summarize(table).to_dict(orient="records")
        ],
    }
    if args.csv:
        report["csv"] = str(args.csv)
    print(json.dumps(report))
    return 0
