"""LeNet training on this machine: one net alone against 3 and 9 nets stacked in one step.

Prints two tables:
1. net-iterations per second (iterations x nets per second) of
   ``hardpos.training.lenet_training.train`` (one net), of one net at batch 64 x K (the
   arithmetic of K nets in one net's kernels: the ceiling of stacking) and of
   ``hardpos.training.stacked.train_stacked`` with 3 and 9 nets and each ``--kernels``
   (vmap, grouped), measured in the same run,
   interleaved round by round so that load from other processes hits all alike, each with
   its ratio to the one-net figure (of the best rounds, and the median of the per-round
   ratios). Set-up (data copy, initial weights) is left out: the clock starts after
   ``--warmup`` iterations;
2. the MNIST test error after ``--iterations`` iterations of each seed trained alone and
   the same seeds trained stacked in one run, with the wall time of each way (the paper:
   0.937% +- 0.110 with Caffe at 10K iterations).

The load average of the machine (shared by other work) is printed before and after.

    .venv/bin/python benchmarks/train_lenet.py                      # speed + 3 seeds x 10K
    .venv/bin/python benchmarks/train_lenet.py --speed-only --rounds 5
    .venv/bin/python benchmarks/train_lenet.py --iterations 2000     # shorter accuracy check
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

from hardpos.metrics.classification import error_rate
from hardpos.mnist.idx import load_mnist
from hardpos.training.lenet_training import train
from hardpos.training.solver import Solver
from hardpos.training.stacked import train_stacked

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def net_iteration_rate(
    images: np.ndarray,
    labels: np.ndarray,
    nets: int,
    steps: int,
    warmup: int,
    stacked: bool,
    device: str = "cpu",
    compile_step: bool = False,
    kernel: str = "vmap",
    batch_of: int = 1,
) -> float:
    """Net-iterations/s of ``steps`` iterations after ``warmup`` ones (``stacked``: through
    ``train_stacked`` even for one net). ``batch_of`` > 1: one net alone at batch 64 x
    ``batch_of``, counted as ``batch_of`` nets (the same arithmetic as that many stacked)."""
    stamps: list[tuple[int, float]] = []

    def clock(iteration, *_):
        stamps.append((iteration, time.perf_counter()))  # progress syncs the device first

    kwargs = dict(iterations=warmup + steps, checkpoint_every=warmup, progress=clock, device=device)
    if stacked:
        seeds = list(range(1, nets + 1))
        train_stacked(
            images, labels, seeds=seeds, compile_step=compile_step, kernel=kernel, **kwargs
        )
    else:
        train(images, labels, seed=1, solver=Solver(batch_size=64 * batch_of), **kwargs)
    (first, t0), (last, t1) = stamps[0], stamps[-1]
    return nets * (last - first) / (t1 - t0)


def speed_table(images, labels, args) -> None:
    """The stacked kernels against one net, and against the ceiling: one net at batch
    64 x K does the arithmetic of K stacked nets in the kernels one net uses, so K nets
    stacked should not beat it by much; where it is near 1, stacking cannot help here."""
    configs = [("one net alone (train)", dict(nets=1, stacked=False))]
    for k in args.stacks:
        configs.append((f"ceiling: one net at batch {64 * k} (as {k} nets)",
                        dict(nets=k, stacked=False, batch_of=k)))  # fmt: skip
        for kernel in args.kernels:
            configs.append((f"{k} nets stacked ({kernel})", dict(nets=k, stacked=True,
                                                                kernel=kernel)))  # fmt: skip
    rates: dict[str, list[float]] = {name: [] for name, _ in configs}
    for _ in range(args.rounds):
        for name, how in configs:
            k = how["nets"]
            steps = max(args.warmup, args.net_iterations // k // args.warmup * args.warmup)
            how = {key: value for key, value in how.items() if key != "nets"}
            rates[name].append(net_iteration_rate(images, labels, k, steps, args.warmup, **how))
    base = rates[configs[0][0]]
    print(
        f"\nTraining speed, batch 64, {args.threads} threads, {args.rounds} interleaved rounds "
        f"of about {args.net_iterations} net-iterations each"
    )
    print("| training | net-it/s (best) | net-it/s (median) | ratio (best) | ratio (median) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, _ in configs:
        ratios = [r / b for r, b in zip(rates[name], base, strict=True)]
        print(
            f"| {name} | {max(rates[name]):.1f} | {statistics.median(rates[name]):.1f} | "
            f"{max(rates[name]) / max(base):.2f} | {statistics.median(ratios):.2f} |"
        )


def accuracy_table(images, labels, test_images, test_labels, args) -> None:
    seeds = [int(s) for s in args.seeds.split(",")]
    alone, started = [], time.perf_counter()
    for seed in seeds:
        state = train(images, labels, seed=seed, iterations=args.iterations)
        alone.append(100 * error_rate(state.model, test_images, test_labels)["error"])
    alone_s = time.perf_counter() - started
    started = time.perf_counter()
    nets = train_stacked(images, labels, seeds=seeds, iterations=args.iterations)
    stacked_s = time.perf_counter() - started
    stacked = [100 * error_rate(n.model, test_images, test_labels)["error"] for n in nets]
    print(f"\nMNIST test error (%) after {args.iterations} iterations")
    print("| seed | alone | stacked | stacked - alone |")
    print("| ---: | ---: | ---: | ---: |")
    for seed, a, s in zip(seeds, alone, stacked, strict=True):
        print(f"| {seed} | {a:.3f} | {s:.3f} | {s - a:+.3f} |")
    spread = statistics.stdev(alone) if len(alone) > 1 else float("nan")
    print(
        f"| mean | {statistics.mean(alone):.3f} ± {spread:.3f} | {statistics.mean(stacked):.3f} "
        f"| {statistics.mean(stacked) - statistics.mean(alone):+.3f} |"
    )
    print("| paper (Caffe, 10K) | 0.937 ± 0.110 | | |")
    total = len(seeds) * args.iterations
    print(
        f"\nwall time for {len(seeds)} x {args.iterations} iterations: one at a time {alone_s:.0f}"
        f" s ({total / alone_s:.1f} net-it/s), stacked {stacked_s:.0f} s "
        f"({total / stacked_s:.1f} net-it/s), ratio {alone_s / stacked_s:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", default=os.environ.get("HARDPOS_MNIST_DIR", DEFAULT_MNIST))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stacks", default="3,9", help="stack sizes to time")
    parser.add_argument("--kernels", default="vmap,grouped", help="train_stacked kernels to time")
    parser.add_argument("--net-iterations", type=int, default=270, help="per config and round")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved speed rounds")
    parser.add_argument("--iterations", type=int, default=10_000, help="accuracy run per seed")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument("--accuracy-only", action="store_true")
    args = parser.parse_args()
    args.stacks = [int(k) for k in args.stacks.split(",") if k]
    args.kernels = [k for k in args.kernels.split(",") if k]

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads; before: {_load()}")
    images, labels = load_mnist(args.mnist_dir, "train")
    test_images, test_labels = load_mnist(args.mnist_dir, "test")
    if not args.accuracy_only:
        speed_table(images, labels, args)
    if not args.speed_only:
        accuracy_table(images, labels, test_images, test_labels, args)
    print(f"\nafter: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
