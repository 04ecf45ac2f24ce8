"""Shared by the experiments tests: hand-made scored tables, and the colour-image run
whose host memory the stages must keep below the image set's size."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from torch import nn

import hardpos.experiments.adversarials
import hardpos.files.images
from hardpos.attacks.search import perturb
from hardpos.files.datasets import save_dataset
from hardpos.files.images import load_images
from hardpos.similarity import pass_score


def _case(n: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):  # a bright bar per image, so ECC has structure to align
        images[i, 6 + 3 * i : 12 + 3 * i, 5:23] = 200 + 10 * i
    images = np.clip(images + rng.integers(0, 30, images.shape), 0, 255).astype(np.uint8)
    directions = np.sign(rng.normal(size=images.shape))
    s_min = rng.uniform(4.0, 12.0, n)
    return images, directions, s_min


def _brute_force(images, directions, s_min, factors, tau):
    """Every scale scored one at a time with the OpenCV reference; the frontier is the last
    scale of the leading run with PASS >= tau."""
    index = []
    for i in range(len(images)):
        last = -1
        for j, c in enumerate(factors):
            adv = perturb(images[i : i + 1], directions[i : i + 1], c * s_min[i])
            if pass_score(adv, images[i : i + 1], "opencv").scores[0] < tau:
                break
            last = j
        index.append(last)
    return np.array(index)


SHAPE = (3, 48, 48)


SOURCES = 750


DIRECTIONS = 4  # hc-d-4: four images per source


class LinearColour(nn.Module):
    """logits = W x / 255 + b over the pixels of a colour image: fast to attack."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.ip = nn.Linear(int(np.prod(SHAPE)), 10)

    def logits(self, x):
        return self.ip(x.float().flatten(1) / 255.0)


def peak_bytes(work) -> int:
    """Peak traced memory of ``work()`` above what was allocated when it started."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        work()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The source set, the generation stage's output and its table, made once."""
    from hardpos.experiments.adversarials import generate_adversarials

    folder = tmp_path_factory.mktemp("memory")
    model = LinearColour().eval()
    rng = np.random.default_rng(0)
    images = rng.integers(40, 216, (SOURCES, *SHAPE), dtype=np.uint8)
    with torch.no_grad():
        labels = model.logits(torch.from_numpy(images)).argmax(1).numpy()
    save_dataset(folder / "set.npz", images, labels)
    paths = {"set": folder / "set.npz", "images": folder / "adv.npz", "table": folder / "t.pq"}

    def generate(limit=None):
        generate_adversarials(
            model="model.pt", dataset=paths["set"], family="hc-d", k=DIRECTIONS,
            factors=[1.0], limit=limit, net=1, out_images=paths["images"],
            out_table=paths["table"], batch_size=64, device="cpu",
        )  # fmt: skip

    mp = pytest.MonkeyPatch()
    mp.setattr(hardpos.experiments.adversarials, "load_model", lambda path, device: model)
    generate(limit=3)  # imports and first-call allocations outside the measurement
    peak = peak_bytes(generate)
    mp.undo()
    return {"folder": folder, "model": model, "peak": peak, **paths}


def full_bytes(path) -> int:
    return load_images(path).nbytes
