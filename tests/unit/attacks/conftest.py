"""The attacks tests' LeNet (float64) and eight real-looking digits it classifies."""

from __future__ import annotations

import numpy as np
import pytest

from hardpos.mnist.lenet import LeNet

from ..conftest import own_labels


@pytest.fixture(scope="module")
def lenet64():
    return LeNet(seed=3).double().eval()


@pytest.fixture(scope="module")
def digits(lenet64):
    """Eight real-looking images: MNIST when present, else smooth random blobs."""
    from paths import mnist_dir

    path = mnist_dir()
    if (path / "t10k-images-idx3-ubyte.gz").is_file():
        from hardpos.mnist.idx import load_mnist

        images = load_mnist(path, "test")[0][:8]
    else:
        rng = np.random.default_rng(0)
        images = (rng.random((8, 28, 28)) ** 4 * 255).astype(np.uint8)
    images = images[:, None]
    return images, own_labels(lenet64, images)
