"""What the read-time checks of issue 13 cost: the zip CRC of image files, the page CRCs and
SHA-256 of Parquet tables.

Prints, for an image file of ``--images`` 28x28 images (default 5400: the smoke run's
largest generated file, HC-D-1..9 at 4 factors of 150 sources) and one of ``--big``
images, the time to open it with and without the CRC check, to reopen it (checked
before: a ``stat``) and to read every image; and for an attack table of ``--rows`` rows
(default 5400 and 300000, GoogLeNet's hard-positive table), a plain ``pd.read_parquet``
against the checked :func:`hardpos.files.parquet.load_table`. Best of a few runs, warm
page cache.

    .venv/bin/python benchmarks/file_checks.py
    .venv/bin/python benchmarks/file_checks.py --images 5400 --big 0 --rows 5400
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hardpos.files import checksums
from hardpos.files.images import load_images, save_images
from hardpos.files.parquet import load_table, save_table


def _best(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def images(folder: Path, n: int, repeat: int) -> None:
    path = folder / "images.npz"
    rng = np.random.default_rng(0)
    save_images(path, rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8))
    np.array(load_images(path, verify=False))  # into the page cache

    def fresh(verify: bool):
        checksums._VERIFIED.clear()  # as a new process would
        load_images(path, verify=verify)

    plain = _best(lambda: fresh(False), repeat)
    checked = _best(lambda: fresh(True), repeat)
    again = _best(lambda: load_images(path), repeat)
    every = _best(lambda: np.array(load_images(path)), repeat)
    size = os.path.getsize(path)
    print(
        f"images.npz, {n} images, {size / 1e6:.1f} MB: open {plain * 1e3:.2f} ms unchecked, "
        f"{checked * 1e3:.2f} ms with the CRC check ({size / checked / 1e9:.2f} GB/s), "
        f"{again * 1e3:.2f} ms reopened; reading every image {every * 1e3:.1f} ms"
    )
    path.unlink()


def table(folder: Path, n: int, repeat: int) -> None:
    path = folder / "table.parquet"
    rng = np.random.default_rng(0)
    columns = {
        "source": np.arange(n) // 36,
        "method": rng.choice(["fgs", "fgv", "hc-d"], n),
        "reason": rng.choice(["", "max_scale"], n),
        "success": rng.random(n) > 0.1,
        "hot_reached": rng.random(n) > 0.5,
    }
    for name in ("label", "k", "hot", "adv_label", "evals"):
        columns[name] = rng.integers(0, 10, n)
    for name in ("factor", "step", "s_min", "l2_per_pixel", "linf", "pass"):
        columns[name] = rng.random(n)
    save_table(path, pd.DataFrame(columns))
    plain = _best(lambda: pd.read_parquet(path), repeat)
    checked = _best(lambda: load_table(path), repeat)
    print(
        f"table.parquet, {n} rows x {len(columns)} columns: pd.read_parquet {plain * 1e3:.1f} "
        f"ms, load_table (page CRCs + SHA-256) {checked * 1e3:.1f} ms"
    )
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=5400)
    parser.add_argument("--big", type=int, default=1_300_000, help="0: skip (1.3M: 1 GB)")
    parser.add_argument("--rows", type=int, nargs="+", default=[5400, 300_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        images(Path(folder), args.images, args.repeat)
        if args.big:
            images(Path(folder), args.big, 2)
        for rows in args.rows:
            table(Path(folder), rows, args.repeat)


if __name__ == "__main__":
    main()
