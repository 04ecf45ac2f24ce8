"""Cost per iteration of the adversarial training objectives against plain training.

Each objective fine-tunes the same LeNet for a few iterations (Caffe's solver, batch 64),
measured in the same run and interleaved round by round, so that load from other
processes hits all alike; prints seconds per iteration and the ratio to plain training.
PGD training costs about steps + 1 forward/backward passes per iteration.

    .venv/bin/python benchmarks/adversarial_training_cost.py --iterations 20 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from hardpos.mnist.idx import load_mnist
from hardpos.training.adversarial_objectives import FGSObjective, PGDObjective
from hardpos.training.lenet_training import train

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, nargs="+", default=[7, 10, 40])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = load_mnist(args.mnist, "train")
    images, labels = images[:10_000], labels[:10_000]
    objectives = {"plain": None, "fgs-objective": FGSObjective(eps=0.25, alpha=0.5)}
    for steps in args.steps:
        objectives[f"pgd-at {steps} steps"] = PGDObjective(
            eps=0.3, step_size=2.5 * 0.3 / steps, steps=steps
        )
    times: dict[str, list[float]] = {name: [] for name in objectives}
    for _ in range(args.rounds):
        for name, objective in objectives.items():
            started = time.perf_counter()
            train(images, labels, seed=1, iterations=args.iterations, objective=objective)
            times[name].append((time.perf_counter() - started) / args.iterations)
    plain = statistics.median(times["plain"])
    print(f"| objective | s/iteration (median of {args.rounds}) | ratio to plain |")
    print("| --- | --- | --- |")
    for name, values in times.items():
        value = statistics.median(values)
        print(f"| {name} | {value:.4f} | {value / plain:.2f} |")


if __name__ == "__main__":
    main()
