"""``hardpos train``: a base LeNet (or a fine-tuning run) with Caffe's solver."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from hardpos.cli.argument_checks import (
    add_download_option,
    device_option,
    download_options,
    positive_int,
    writable_file,
)
from hardpos.device import describe, pick_device
from hardpos.errors import InputError
from hardpos.files.weights import read_weights
from hardpos.metrics.classification import error_rate
from hardpos.mnist.idx import load_mnist
from hardpos.mnist.lenet import save_model
from hardpos.training.lenet_training import train
from hardpos.training.solver import Solver

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train Caffe's LeNet on MNIST with Caffe's solver")
    p.add_argument("--mnist-dir", required=True, help="folder with the four MNIST IDX files")
    add_download_option(p)
    p.add_argument("--seed", type=int, default=0, help="initial weights and ordering")
    p.add_argument("--iterations", type=positive_int, default=10_000,
                   help="the iteration counter to train to (--init: from its count)")  # fmt: skip
    p.add_argument("--batch-size", type=positive_int, default=64, help="images a step")
    p.add_argument("--base-lr", type=float, default=0.01, help="Caffe's base_lr (inv policy)")
    p.add_argument("--init", help="checkpoint to continue from (fine-tuning)")
    p.add_argument("--checkpoint", help="checkpoint file; resumed from when it exists")
    p.add_argument("--checkpoint-every", type=positive_int, default=1000,
                   help="iterations between checkpoints (resumed from)")  # fmt: skip
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's own choice)")
    p.add_argument("--device", type=device_option, default="auto", help="auto, cpu, cuda[:N]")
    p.add_argument("--out", required=True, help="model file (state_dict) to write")


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    writable_file(args.out)  # before the training, not after it
    if args.init:
        _check_init(Path(args.init))
    device = pick_device(args.device)
    log.info("device: %s", describe(device))
    images, labels = load_mnist(args.mnist_dir, "train", **download_options(args))
    solver = Solver(batch_size=args.batch_size, base_lr=args.base_lr)
    checkpoint = args.checkpoint or args.out + ".ckpt"
    if Path(checkpoint).is_file():
        print(f"resuming from the checkpoint {checkpoint} (delete it to start over)")
    state = train(
        images,
        labels,
        seed=args.seed,
        iterations=args.iterations,
        solver=solver,
        init=args.init,
        checkpoint=checkpoint,
        checkpoint_every=args.checkpoint_every,
        device=device,
        progress=lambda it, loss, lr: log.info("iteration %d loss %.4f lr %.6f", it, loss, lr),
    )
    test_images, test_labels = load_mnist(args.mnist_dir, "test")
    metrics = error_rate(state.model, test_images, test_labels, device=device)
    save_model(
        args.out,
        state.model,
        {
            "seed": args.seed,
            "iterations": state.iteration,
            "test": metrics,
            "init": args.init,
            "train_images": len(images),
            "added_images": 0,
        },
    )
    log.info("test error %.4f", metrics["error"])
    start = f"from {args.init}" if args.init else f"from seed {args.seed}"
    print(f"trained {start} to iteration {state.iteration}; MNIST test error "
          f"{100 * metrics['error']:.2f}% ({metrics['wrong']} of {metrics['n']}); model: "
          f"{args.out}, training state: {checkpoint}")  # fmt: skip
    return 0


def _check_init(path: Path) -> None:
    """``--init`` takes a training state (weights, momentum, iteration): a model file
    alone would restart the solver; point to the state file beside it."""
    state = read_weights(path)
    if isinstance(state, dict) and "model" in state:
        return
    beside = [p for p in (path.with_name(path.name + ".ckpt"),
                          path.with_name(path.stem + ".solver.pt")) if p.is_file()]  # fmt: skip
    hint = f": --init {beside[0]}" if beside else " (a .ckpt or .solver.pt file)"
    raise InputError(f"--init {path} holds a model's weights, not a training state; "
                     f"fine-tuning continues the solver's state{hint}")  # fmt: skip
