"""The stages' speed on the accelerator this machine has, beside the CPU, in one run.

Prints one table: for the CPU and (when present) CUDA, net-iterations per second of one
LeNet alone (``train``), of ``--stack`` nets stacked in one step (``train_stacked``), of the
same stack with ``compile_step`` (torch.compile; a captured CUDA graph on CUDA) when
``--compile`` is given, attack directions per second (``generate`` with fgs, fgv and
hc-d-9 on LeNet: table rows, one per correctly classified image and direction), and PASS
pairs per second (torch backend, on perturbed MNIST test digits), and the batch sizes
``auto`` picks there; then each device's figure over the CPU's. Without a GPU it prints
the CPU column only and says so.

The LeNet attacked is trained here for ``--attack-net-iterations`` (accuracy matters little
for the rate). The load average is printed: on a shared machine the CPU figures are noisy.

    .venv/bin/python benchmarks/device.py
    .venv/bin/python benchmarks/device.py --stack 9 --compile --pairs 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from hardpos.attacks import generate
from hardpos.attacks.classifier import PixelModel
from hardpos.attacks.generation import auto_batch_size
from hardpos.mnist.idx import load_mnist
from hardpos.similarity import pass_score
from hardpos.similarity.pairs import perturbed_pairs
from hardpos.similarity.torch_backend import gpu_capacity
from hardpos.training.lenet_training import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_lenet import net_iteration_rate  # noqa: E402  (the benchmark beside this one)

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def attack_rate(model, images, labels, device: str) -> float:
    """Attack directions (table rows) per second, after a small warm-up call."""
    generate(model, images[:16], labels[:16], device=device)
    _sync(device)
    start = time.perf_counter()
    _, table = generate(model, images, labels, device=device)
    _sync(device)
    return len(table) / (time.perf_counter() - start)


def pass_rate(adv, orig, device: str) -> float:
    """PASS pairs per second of the torch backend, after a warm-up call."""
    pass_score(adv[:64], orig[:64], "torch", device=device)
    _sync(device)
    start = time.perf_counter()
    pass_score(adv, orig, "torch", device=device)
    _sync(device)
    return len(adv) / (time.perf_counter() - start)


def figures(device: str, data, model, args) -> dict[str, float]:
    images, labels, test_images, test_labels, adv, orig = data
    steps = args.steps
    rows = {
        "LeNet training, 1 net (net-it/s)": net_iteration_rate(
            images, labels, 1, steps, args.warmup, stacked=False, device=device
        ),
        f"LeNet training, {args.stack} stacked (net-it/s)": net_iteration_rate(
            images, labels, args.stack, steps, args.warmup, stacked=True, device=device
        ),
    }
    if args.compile:
        rows[f"LeNet training, {args.stack} stacked, compiled (net-it/s)"] = net_iteration_rate(
            images, labels, args.stack, steps, args.warmup, True, device, compile_step=True
        )
    n = args.attack_images
    rows["attack directions/s (fgs, fgv, hc-d-9)"] = attack_rate(
        model, test_images[:n], test_labels[:n], device
    )
    rows["PASS pairs/s (torch backend)"] = pass_rate(adv, orig, device)
    rows["attack batch_size auto (pairs)"] = auto_batch_size(
        PixelModel(model.to(device), channels=1), test_images[:256, None]
    )
    model.to("cpu")
    if device.startswith("cuda"):
        rows["PASS pairs iterating together (auto)"] = gpu_capacity(28 * 28, torch.device(device))
    else:
        rows["PASS pairs iterating together (auto)"] = 64
    return rows


def _cell(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", default=os.environ.get("HARDPOS_MNIST_DIR", DEFAULT_MNIST))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stack", type=int, default=9)
    parser.add_argument("--steps", type=int, default=100, help="timed training iterations")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="also time compile_step")
    parser.add_argument("--attack-images", type=int, default=200)
    parser.add_argument("--attack-net-iterations", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=2000)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"torch {torch.__version__}, {args.threads} CPU threads, load average {load}")
    images, labels = load_mnist(args.mnist_dir, "train")
    test_images, test_labels = load_mnist(args.mnist_dir, "test")
    adv, orig = perturbed_pairs(test_images, args.pairs, seed=0)
    data = (images, labels, test_images, test_labels, adv, orig)
    model = train(images, labels, seed=1, iterations=args.attack_net_iterations).model

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
        print(f"accelerator: {torch.cuda.get_device_name(0)}")
    else:
        print("no CUDA device found: CPU figures only")
    results = {device: figures(device, data, model, args) for device in devices}
    header = " | ".join(devices)
    print(f"\n| figure | {header} |" + (" cuda / cpu |" if len(devices) > 1 else ""))
    print("| --- |" + " ---: |" * (len(devices) + (len(devices) > 1)))
    for name, cpu_value in results["cpu"].items():
        cells = " | ".join(_cell(results[d][name]) for d in devices)
        ratio = f" {results['cuda'][name] / cpu_value:.1f} |" if len(devices) > 1 else ""
        print(f"| {name} | {cells} |{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
