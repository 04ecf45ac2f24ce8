"""Minimal adversarials on LeNet/MNIST: hardpos.attacks against ART's minimal FGM.

Measures, on the first ``--images`` MNIST test images and one LeNet (trained with
hardpos.training.lenet_training, cached in benchmarks/.cache/), for ``fgs``, ``fgv`` and ``hc-d-9``:
minimal adversarials found per second, forward passes per found adversarial (images
through the model, the direction computation's forward pass included), success rate, and
the median L-infinity and L2 per pixel; and the same for ART's
``FastGradientMethod(norm=inf, eps=1, eps_step=1/255, minimal=True)`` on the same model in
the same run (ART sees the model through a [0, 1] input: ``logits(255 * z)``, clip values
(0, 1), and only the images the model classifies correctly). The last column is ours / ART.

ART's FGS with eps_step = 1/255 steps one grey level at a time: the same grid as ours for
FGS (L-infinity m grey levels at s = m - 1/2), so the two should find the same median
L-infinity. The machine is shared: the load average is printed, and the rates are noisy;
``--repeats`` alternates ART and ours and keeps each one's best run.

    .venv/bin/python benchmarks/attacks.py                      # 10K-iteration LeNet
    .venv/bin/python benchmarks/attacks.py --iterations 2000 --art-batch-size 16
    .venv/bin/python benchmarks/attacks.py --channels-last      # both on a channels-last copy
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hardpos.attacks import generate, summarize
from hardpos.experiments.models import load_model
from hardpos.metrics.classification import predict
from hardpos.mnist.idx import load_mnist
from hardpos.mnist.lenet import save_model
from hardpos.training.lenet_training import train

HERE = Path(__file__).resolve().parent
DEFAULT_MNIST = HERE.parents[1] / "shared" / "data" / "mnist"


class Counted(nn.Module):
    """A model that counts the images passed through ``logits``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.images = 0

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        self.images += len(x)
        return self.net.logits(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x)


class UnitInput(nn.Module):
    """ART's view of the model: inputs in [0, 1], scaled back to pixel values."""

    def __init__(self, net: Counted) -> None:
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net.logits(z * 255.0)


def cached_model(mnist: Path, seed: int, iterations: int) -> nn.Module:
    path = HERE / ".cache" / f"lenet-seed{seed}-it{iterations}.pt"
    if not path.is_file():
        print(f"training LeNet seed {seed}, {iterations} iterations -> {path}", file=sys.stderr)
        images, labels = load_mnist(mnist, "train")
        state = train(images, labels, seed=seed, iterations=iterations)
        save_model(path, state.model, {"seed": seed, "iterations": iterations})
    return load_model(path)


def distances(adv: np.ndarray, orig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L-infinity and L2 per pixel (||.||_2 / m, m pixels) on the [0, 255] scale."""
    diff = adv.reshape(len(adv), -1).astype(np.float64) - orig.reshape(len(orig), -1)
    return np.abs(diff).max(axis=1), np.sqrt((diff**2).sum(axis=1)) / diff.shape[1]


def run_ours(model: Counted, images, labels, method: str, batch_size: int) -> dict:
    model.images = 0
    start = time.perf_counter()
    adv, table = generate(model, images, labels, methods=[method], batch_size=batch_size)
    seconds = time.perf_counter() - start
    ok = table["success"].to_numpy()
    summary = summarize(table).iloc[0]
    return {
        "seconds": seconds,
        "found": int(ok.sum()),
        "attempts": len(table),
        "forward": model.images,
        "linf": float(summary["median_linf"]),
        "l2": float(summary["median_l2_per_pixel"]),
        "table": table,
        "adv": adv,
    }


def run_art(model: Counted, images, labels, batch_size: int) -> dict:
    from art.attacks.evasion import FastGradientMethod
    from art.estimators.classification import PyTorchClassifier

    classifier = PyTorchClassifier(
        UnitInput(model),
        loss=nn.CrossEntropyLoss(),
        input_shape=(images.shape[1], *images.shape[2:]),
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )
    attack = FastGradientMethod(
        classifier, norm=np.inf, eps=1.0, eps_step=1 / 255, minimal=True, batch_size=batch_size
    )
    x = images.astype(np.float32) / 255.0
    model.images = 0
    start = time.perf_counter()
    adv = attack.generate(x, y=labels)
    seconds = time.perf_counter() - start
    forward = model.images
    adv_pixels = np.clip(np.round(adv * 255.0), 0, 255)
    ok = predict(model.net, adv_pixels.astype(np.float32)) != labels
    linf, l2 = distances(adv_pixels[ok], images[ok])
    return {
        "seconds": seconds,
        "found": int(ok.sum()),
        "attempts": len(images),
        "forward": forward,
        "linf": float(np.median(linf)),
        "l2": float(np.median(l2)),
    }


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist-dir", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4096, help="ours: pairs per batch")
    parser.add_argument("--art-batch-size", type=int, default=32, help="ART's (its default)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating ART/ours runs")
    parser.add_argument(
        "--channels-last",
        action="store_true",
        help="run both on a channels-last copy of the model (faster max-pooling on CPU)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    net = cached_model(args.mnist_dir, args.seed, args.iterations).eval()
    if args.channels_last:
        net = copy.deepcopy(net).to(memory_format=torch.channels_last)
    model = Counted(net)
    images, labels = load_mnist(args.mnist_dir, "test")
    images, labels = images[: args.images, None], labels[: args.images]
    correct = predict(net, images) == labels
    print(
        f"LeNet seed {args.seed}, {args.iterations} iterations; {len(images)} test images, "
        f"{int(correct.sum())} correctly classified; {args.threads} threads; "
        f"load average {os.getloadavg()[0]:.2f} at start"
        + ("; channels-last" if args.channels_last else "")
    )

    # warm-up: allocator, kernels, ART import
    generate(model, images[:50], labels[:50], methods=["fgs", "hc-d-1"])
    run_art(model, images[correct][:20], labels[correct][:20], args.art_batch_size)

    methods = ["fgs", "fgv", "hc-d-9"]
    ours: dict[str, list[dict]] = {m: [] for m in methods}
    art: list[dict] = []
    for _ in range(args.repeats):
        art.append(run_art(model, images[correct], labels[correct], args.art_batch_size))
        for method in methods:
            ours[method].append(run_ours(model, images, labels, method, args.batch_size))
    art_best = best(art)
    art_rate = art_best["found"] / art_best["seconds"]

    header = (
        f"{'method':<22} {'found':>6} {'success':>8} {'adv/s':>8} {'fwd/adv':>8} "
        f"{'med Linf':>9} {'med L2/px':>10} {'adv/s vs ART':>13}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    rows = [(f"ours {m}", best(ours[m])) for m in methods] + [("ART FGM minimal", art_best)]
    for name, r in rows:
        rate = r["found"] / r["seconds"]
        print(
            f"{name:<22} {r['found']:>6} {r['found'] / r['attempts']:>8.3f} {rate:>8.1f} "
            f"{r['forward'] / max(r['found'], 1):>8.2f} {r['linf']:>9.1f} {r['l2']:>10.4f} "
            f"{rate / art_rate:>12.1f}x"
        )

    hc = best(ours["hc-d-9"])
    table, adv = hc["table"], hc["adv"]
    ok = table["success"].to_numpy()
    distinct = {}
    for source, rows_of in table[ok].groupby("source").groups.items():
        distinct[source] = len({adv[i].tobytes() for i in rows_of})
    per_image = np.array([distinct.get(s, 0) for s in np.unique(table["source"])])
    reasons = table.loc[~ok, "reason"].value_counts().to_dict()
    print(
        f"\nhc-d-9: {len(per_image)} correctly classified images, {ok.sum()} of "
        f"{len(table)} directions adversarial, {int((~ok).sum())} failed {reasons}; "
        f"distinct adversarials per image: mean {per_image.mean():.2f}, "
        f"min {per_image.min()}, histogram (0..9) {np.bincount(per_image, minlength=10).tolist()}; "
        f"hot class reached {table.loc[ok, 'hot_reached'].mean():.3f}"
    )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
