"""``hardpos attack``: minimal adversarials and hard positives of a set of images.

Writes ``OUT/images.npz`` (uint8 ``[M, C, H, W]``, :func:`hardpos.files.images.image_writer`: a
chunk at a time, so the set need not fit in memory; a dataset file is memory-mapped) and
``OUT/table.parquet`` (one row per image, :data:`hardpos.attacks.COLUMNS`), and prints a
JSON summary per method and factor (success rate, failures, median L2 per pixel and
L-infinity).

The images come either from an MNIST folder (``--mnist-dir DIR --split test``) or from an
``.npz`` dataset with arrays ``images`` (uint8 ``[N, H, W]`` or ``[N, C, H, W]``) and
``labels`` (int ``[N]``), as written by :func:`hardpos.files.datasets.save_dataset`
(``--images FILE.npz``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math

from hardpos.cli.options import device_option, writable_folder
from hardpos.errors import InputError
from hardpos.experiments.attack_options import check_factors, check_methods

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
    )
    p.add_argument("--model", required=True, help="model file written by hardpos train")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--mnist-dir", help="folder with the MNIST IDX files")
    source.add_argument("--images", help=".npz with arrays images and labels")
    p.add_argument("--split", default="test", choices=["train", "test"], help="MNIST split")
    p.add_argument(
        "--methods",
        default="fgs,fgv,hc-d-9",
        help="comma-separated: fgs, fgv, hc-d-K, hc-s-K (ranks 1..K), hc-d-kR (rank R); "
        "default fgs,fgv,hc-d-9",
    )
    p.add_argument(
        "--factors", type=_floats, default=[1.0], help="hard-positive factors >= 1 (default 1.0)"
    )
    p.add_argument(
        "--allow-shrink",
        action="store_true",
        help="accept factors below 1 (images between the original and the minimal adversarial)",
    )
    p.add_argument("--limit", type=int, help="attack only the first N images")
    p.add_argument("--batch-size", type=int, default=4096, help="pairs searched together")
    p.add_argument("--max-scale", type=float, default=255.0, help="cap on the scale s")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--device", type=device_option, default="auto", help="auto, cpu, cuda[:N]")
    p.add_argument("--out", required=True, help="output folder")


def run(args: argparse.Namespace) -> int:
    import torch

    from hardpos.attacks import generate_to_files, summarize
    from hardpos.device import pick_device
    from hardpos.experiments.models import load_model
    from hardpos.files.datasets import load_dataset
    from hardpos.mnist.idx import load_mnist

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.limit is not None and args.limit < 0:
        raise InputError(f"--limit must be at least 0; got {args.limit}")
    # the checks the workflow config gets too, before any image is read
    check_factors(args.factors, allow_shrink=args.allow_shrink, where="--factors")
    check_methods(args.methods, where="--methods")
    out = writable_folder(args.out, option="--out")
    if args.mnist_dir:
        images, labels = load_mnist(args.mnist_dir, args.split)
        where = f"{args.mnist_dir} ({args.split})"
    else:
        images, labels = load_dataset(args.images)
        where = args.images
    if args.limit is not None:
        images, labels = images[: args.limit], labels[: args.limit]
    log.info("attacking %d images from %s", len(images), where)
    device = pick_device(args.device)
    model = load_model(args.model, device)
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
    )
    report = {
        "images": str(out / "images.npz"),
        "table": str(out / "table.parquet"),
        "sources": len(images),
        "attacked": int(table["source"].nunique()),
        "rows": len(table),
        "summary": [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in summarize(table).to_dict(orient="records")
        ],
    }
    print(json.dumps(report))
    return 0
