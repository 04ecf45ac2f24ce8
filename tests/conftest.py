"""Shared fixtures: where the real MNIST lives, and small data made on the spot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from paths import mnist_dir


@pytest.fixture(scope="session")
def real_mnist() -> Path:
    path = mnist_dir()
    if not (path / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST not found in {path} (set HARDPOS_MNIST_DIR)")
    return path


@pytest.fixture
def tiny_mnist(tmp_path: Path) -> Path:
    """A six-image MNIST-shaped IDX set (train and test) in a temporary folder."""
    from hardpos.mnist.idx import write_idx

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 6), ("t10k", 6)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return tmp_path
