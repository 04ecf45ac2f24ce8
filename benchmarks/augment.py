"""InfiMNIST-style generation speed, and a picture to check that digits stay digits.

Prints images per second of ``infimnist_style`` on the real MNIST training digits (one
process; best of ``--repeat`` runs), the time that makes for the paper's 1M images, and
the ink and centre-of-mass statistics of the deformed digits. ``--grid PNG`` also saves
8 originals (left column) with 5 deformations each, white background, 4x enlarged.

    .venv/bin/python benchmarks/augment.py                          # 20000 images
    .venv/bin/python benchmarks/augment.py --grid /tmp/augment_grid.png
    .venv/bin/python benchmarks/augment.py --alpha 34 --sigma 4     # Simard's field
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

from hardpos.mnist.deformations import DEFAULTS, deform, infimnist_style
from hardpos.mnist.idx import load_mnist

DEFAULT_MNIST = Path(
    os.environ.get(
        "HARDPOS_MNIST_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    )
)


def centre_of_mass(images: np.ndarray) -> np.ndarray:
    """(x, y) centre of mass of every image in ``[N, H, W]``."""
    images = images.astype(np.float64)
    mass = images.sum(axis=(1, 2))
    x = (images.sum(axis=1) * np.arange(images.shape[2])).sum(axis=1) / mass
    y = (images.sum(axis=2) * np.arange(images.shape[1])).sum(axis=1) / mass
    return np.stack([x, y], axis=1)


def save_grid(path: str, images: np.ndarray, options: dict, *, seed: int) -> None:
    """8 digits (every 7th training image), each followed by 5 of its deformations."""
    rows = []
    for source in range(0, 56, 7):
        row = [images[source]]
        row += [
            deform(images[source], np.random.default_rng([seed, source, k]), **options)
            for k in range(5)
        ]
        rows.append(np.concatenate([np.pad(im, 1, constant_values=128) for im in row], axis=1))
    grid = 255 - np.concatenate(rows, axis=0)
    cv2.imwrite(path, cv2.resize(grid, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST))
    print(f"grid: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", help="save an 8 x (1 + 5) PNG grid here")
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args()
    options = {name: getattr(args, name) for name in DEFAULTS}

    cv2.setNumThreads(1)
    images, labels = load_mnist(args.mnist, "train")
    print(f"options: {options}")
    best = np.inf
    for _ in range(args.repeat):
        began = time.perf_counter()
        out, _ = infimnist_style(images, labels, args.images, seed=args.seed, **options)
        best = min(best, time.perf_counter() - began)
    rate = args.images / best
    print(f"{rate:,.0f} images/s ({args.images} images in {best:.2f} s); 1M: {1e6 / rate:.0f} s")

    sources = images[np.arange(args.images) % len(images)]
    ink = out.sum(axis=(1, 2), dtype=np.float64) / sources.sum(axis=(1, 2), dtype=np.float64)
    diff = np.abs(out.astype(np.float64) - sources).mean(axis=(1, 2))
    moved = np.linalg.norm(centre_of_mass(out) - centre_of_mass(sources), axis=1)
    print(
        f"ink kept: median {np.median(ink):.3f}, range {ink.min():.3f}..{ink.max():.3f}; "
        f"mean |difference| median {np.median(diff):.1f} grey levels; centre of mass moved: "
        f"median {np.median(moved):.2f} px, 95% {np.quantile(moved, 0.95):.2f} px, "
        f"max {moved.max():.2f} px"
    )
    if args.grid:
        save_grid(args.grid, images, options, seed=args.seed)


if __name__ == "__main__":
    main()
