"""PASS speed: a plain per-pair loop, the reference backend and the fast torch backend.

Prints pairs per second of
(a) the loop a user would write: cv2.findTransformECC + cv2.warpPerspective +
    skimage.metrics.structural_similarity (Gaussian window, sigma 1.5, population
    covariance, data range 255), one pair at a time;
(b) ``pass_score(backend="opencv")`` with ``--threads`` processes;
(c) ``pass_score(backend="torch")`` on the CPU with ``--threads`` processes;
each with its speed-up over (a) measured in the same run (best of ``--repeat`` runs,
interleaved, so that load from other processes hits all alike), and then how well (c)
agrees with (b): share of pairs within 0.01, mean and largest absolute difference.
(c)'s worker processes are forked on its first call and kept; that first call is timed
on its own too.

Pairs are MNIST test digits shifted, rotated and made noisy (``perturbed_pairs``), or
real adversarials: ``--adversarials DIR`` with DIR/images.npz and DIR/table.parquet as
the generate stage writes them (``source`` indexes the MNIST ``--split``).

    .venv/bin/python benchmarks/pass_score.py                 # 5000 synthetic pairs
    .venv/bin/python benchmarks/pass_score.py --pairs 20000 --threads 2
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from skimage.metrics import structural_similarity

from hardpos.files.images import load_images
from hardpos.files.parquet import load_table
from hardpos.mnist.idx import load_mnist
from hardpos.similarity import pass_score, workers
from hardpos.similarity.pairs import perturbed_pairs

DEFAULT_MNIST = Path(
    os.environ.get(
        "HARDPOS_MNIST_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    )
)


def synthetic_pairs(mnist_dir: Path, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (perturbed, original) uint8 ``[n, 28, 28]`` pairs from MNIST test digits."""
    images, _ = load_mnist(mnist_dir, "test")
    return perturbed_pairs(images, n, seed=seed)


def adversarial_pairs(folder: Path, mnist_dir: Path, split: str, n: int):
    """The first ``n`` generated adversarials of ``folder`` and their MNIST originals."""
    adv = load_images(folder / "images.npz")[:n]
    table = load_table(folder / "table.parquet").iloc[:n]
    originals, _ = load_mnist(mnist_dir, split)
    adv = adv[:, 0] if adv.ndim == 4 and adv.shape[1] == 1 else adv
    return adv, originals[table["source"].to_numpy()]


def plain_loop(adv: np.ndarray, orig: np.ndarray) -> np.ndarray:
    """PASS as a user would first write it, one pair at a time."""
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-3)
    scores = np.empty(len(adv))
    for i, (a, o) in enumerate(zip(adv, orig, strict=True)):
        a32, o32 = a.astype(np.float32), o.astype(np.float32)
        warp = np.eye(3, dtype=np.float32)
        try:
            _, warp = cv2.findTransformECC(o32, a32, warp, cv2.MOTION_HOMOGRAPHY, criteria, None, 5)
        except cv2.error:
            warp = np.eye(3, dtype=np.float32)
        aligned = cv2.warpPerspective(
            a32, warp, o.shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        )
        scores[i] = structural_similarity(
            aligned.astype(np.float64),
            o32.astype(np.float64),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
        )
    return scores


def timed(function, *args) -> tuple[float, object]:
    start = time.perf_counter()
    out = function(*args)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--loop-pairs", type=int, default=1000, help="pairs timed for (a)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mnist-dir", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--adversarials", type=Path, help="folder with images.npz, table.parquet")
    parser.add_argument("--split", default="test", help="MNIST split the table's source indexes")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    if args.adversarials:
        adv, orig = adversarial_pairs(args.adversarials, args.mnist_dir, args.split, args.pairs)
        source = f"adversarials from {args.adversarials}"
    else:
        adv, orig = synthetic_pairs(args.mnist_dir, args.pairs, args.seed)
        source = "MNIST test digits shifted/rotated/noisy"
    n, n_loop = len(adv), min(len(adv), args.loop_pairs)
    print(
        f"{n} pairs ({source}); torch {torch.__version__}, {args.threads} threads, "
        f"load average {os.getloadavg()[0]:.2f}"
    )

    pass_score(adv[:64], orig[:64], "torch")  # warm-up: allocator, filter caches
    workers.close()
    first, _ = timed(pass_score, adv, orig, "torch")  # includes forking the workers
    best = {"loop": np.inf, "opencv": np.inf, "torch": np.inf}
    for _ in range(args.repeat):
        seconds, _ = timed(plain_loop, adv[:n_loop], orig[:n_loop])
        best["loop"] = min(best["loop"], seconds / n_loop)
        seconds, ref = timed(pass_score, adv, orig, "opencv")
        best["opencv"] = min(best["opencv"], seconds / n)
        seconds, fast = timed(pass_score, adv, orig, "torch")
        best["torch"] = min(best["torch"], seconds / n)

    rows = [
        ("(a) per-pair loop: cv2 ECC + warp + skimage SSIM", n_loop, best["loop"]),
        (f'(b) pass_score(backend="opencv"), {args.threads} processes', n, best["opencv"]),
        (f'(c) pass_score(backend="torch"), CPU, {args.threads} processes', n, best["torch"]),
        ("(c) its first call, which forks the worker processes", n, first / n),
    ]
    print("\n| method | pairs | pairs/s | vs (a) |\n|---|---:|---:|---:|")
    for name, count, per_pair in rows:
        print(f"| {name} | {count} | {1 / per_pair:,.0f} | {best['loop'] / per_pair:.1f}x |")

    diff = np.abs(ref.scores - fast.scores)
    print("\n| agreement (c) vs (b) | value |\n|---|---:|")
    print(f"| pairs within 0.01 | {np.mean(diff < 0.01):.2%} |")
    print(f"| mean abs difference | {diff.mean():.5f} |")
    print(f"| max abs difference | {diff.max():.4f} |")
    print(f"| same ECC convergence flag | {np.mean(ref.converged == fast.converged):.2%} |")
    print(f"| ECC converged (reference) | {ref.converged.mean():.2%} |")
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
