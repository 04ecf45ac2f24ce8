"""Base LeNet training on this machine: speed against a plain PyTorch loop, and accuracy.

Prints two tables:
1. iterations per second of `hardpos.training.lenet_training` and of a plain PyTorch loop of
   the same net
   (torch.optim.SGD, NCHW, a DataLoader-free index per batch) measured in the same run,
   interleaved so that load from other processes hits both alike, with their ratio;
2. the MNIST test error after the full run (10K iterations by default) for each seed,
   with the mean and standard deviation (the paper: 0.937% +- 0.110 with Caffe).

    .venv/bin/python benchmarks/train_lenet.py                # speed + 3 seeds x 10K
    .venv/bin/python benchmarks/train_lenet.py --speed-only
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hardpos.metrics.classification import error_rate
from hardpos.mnist.idx import load_mnist
from hardpos.mnist.lenet import LeNet
from hardpos.training.lenet_training import train

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def plain_loop_rate(images: np.ndarray, labels: np.ndarray, iterations: int) -> float:
    """Iterations/s of the loop a user would write first, for the ratio."""
    x_all = torch.from_numpy(images).unsqueeze(1)
    y_all = torch.from_numpy(labels)
    model = LeNet(seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    order = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(0))
    start = None
    for i in range(iterations + 20):
        if i == 20:
            start = time.perf_counter()
        idx = order[(i * 64) % (len(order) - 64) :][:64]
        loss = F.cross_entropy(model(x_all[idx].float()), y_all[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return iterations / (time.perf_counter() - start)


def hardpos_rate(images: np.ndarray, labels: np.ndarray, iterations: int) -> float:
    train(images, labels, seed=0, iterations=20)  # warm-up: allocator, kernels
    start = time.perf_counter()
    train(images, labels, seed=0, iterations=iterations)
    return iterations / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", default=os.environ.get("HARDPOS_MNIST_DIR", DEFAULT_MNIST))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speed-iterations", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved speed rounds")
    parser.add_argument("--iterations", type=int, default=10_000, help="full run per seed")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--speed-only", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    images, labels = load_mnist(args.mnist_dir, "train")
    test_images, test_labels = load_mnist(args.mnist_dir, "test")

    ours, plain = [], []
    for _ in range(args.rounds):
        ours.append(hardpos_rate(images, labels, args.speed_iterations))
        plain.append(plain_loop_rate(images, labels, args.speed_iterations))
    best_ours, best_plain = max(ours), max(plain)
    print(
        f"\nTraining speed, batch 64, {args.threads} threads, best of {args.rounds} rounds "
        f"of {args.speed_iterations} iterations"
    )
    print("| loop | it/s (best) | it/s (median) | ratio to plain |")
    print("| --- | ---: | ---: | ---: |")
    median_plain = statistics.median(plain)
    print(f"| plain PyTorch (optim.SGD, NCHW) | {best_plain:.1f} | {median_plain:.1f} | 1.00 |")
    print(
        f"| hardpos.training.lenet_training (Caffe SGD) | {best_ours:.1f} | "
        f"{statistics.median(ours):.1f} | "
        f"{best_ours / best_plain:.2f} |"
    )
    if args.speed_only:
        return 0

    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        start = time.perf_counter()
        state = train(images, labels, seed=seed, iterations=args.iterations)
        seconds = time.perf_counter() - start
        err = error_rate(state.model, test_images, test_labels)["error"]
        rows.append((seed, err, seconds))
    print(f"\nMNIST test error after {args.iterations} iterations")
    print("| seed | test error (%) | seconds | it/s |")
    print("| ---: | ---: | ---: | ---: |")
    for seed, err, seconds in rows:
        print(f"| {seed} | {100 * err:.3f} | {seconds:.0f} | {args.iterations / seconds:.1f} |")
    errors = [100 * e for _, e, _ in rows]
    spread = statistics.stdev(errors) if len(errors) > 1 else float("nan")
    print(f"| mean ± std | {statistics.mean(errors):.3f} ± {spread:.3f} | | |")
    print("| paper (Caffe) | 0.937 ± 0.110 | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
