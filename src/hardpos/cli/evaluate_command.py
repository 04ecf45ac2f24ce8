"""``hardpos evaluate``: the MNIST test error of a model, as JSON."""

from __future__ import annotations

import argparse
import json

from hardpos.cli.argument_checks import add_download_option, device_option, download_options
from hardpos.device import pick_device
from hardpos.experiments.models import load_model
from hardpos.metrics.classification import error_rate
from hardpos.mnist.idx import load_mnist


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="print a model's MNIST test error as JSON")
    p.add_argument("--mnist-dir", required=True, help="folder with the four MNIST IDX files")
    p.add_argument("--model", required=True, help="model file (hardpos train's, or a LeNet's)")
    p.add_argument("--split", default="test", choices=["train", "test"], help="MNIST split")
    add_download_option(p)
    p.add_argument("--device", type=device_option, default="auto", help="auto, cpu, cuda[:N]")


def run(args: argparse.Namespace) -> int:
    device = pick_device(args.device)
    model = load_model(args.model, device)
    images, labels = load_mnist(args.mnist_dir, args.split, **download_options(args))
    metrics = error_rate(model, images, labels, device=device)
    print(json.dumps({**metrics, "model": args.model, "split": args.split}))
    return 0
