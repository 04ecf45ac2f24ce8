"""Host memory of the stages does not grow with the number of images.

Each stage runs on a few thousand small colour images, under tracemalloc (which sees
every numpy array and Python object, not the memory-mapped files' pages), and must stay
well below the size of the whole image set; the same work done the in-memory way (the
control) goes above it, so the measurement can fail.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import hardpos.experiments.adversarials
import hardpos.files.images
from hardpos.experiments.recipes import Recipe
from hardpos.files.datasets import load_dataset, save_dataset
from hardpos.files.images import ImageStack, load_images, save_images

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


def test_generation_writes_images_as_they_are_made(run):
    full = full_bytes(run["images"])
    assert full == SOURCES * DIRECTIONS * np.prod(SHAPE)  # every source attacked
    assert run["peak"] < full / 4

    from hardpos.attacks import generate

    source = load_dataset(run["set"])

    def in_memory():
        adv, _ = generate(run["model"], *source, methods="hc-d-4", batch_size=64)
        save_images(run["folder"] / "control.npz", adv)

    assert peak_bytes(in_memory) > full  # the control: holding the set is seen


def test_pass_scoring_reads_the_images_batch_by_batch(run):
    from hardpos.experiments.adversarials import score_pass

    full = full_bytes(run["images"])

    def score():
        score_pass(images=run["images"], table=run["table"], dataset=run["set"],
                   out_table=run["folder"] / "scored.pq", backend="opencv", batch_size=16,
                   device="cpu")  # fmt: skip

    assert peak_bytes(score) < full / 4
    assert pd.read_parquet(run["folder"] / "scored.pq")["pass"].notna().all()
    assert peak_bytes(lambda: load_images(run["images"], mmap=False)) > full  # the control


def test_trainset_and_fine_tuning_set_copy_a_chunk_at_a_time(run, monkeypatch):
    from hardpos.experiments.trainsets import build_trainset
    from hardpos.imagenet.folders import INDEX_COLUMNS, CropDataset
    from hardpos.training.classifier_finetuning import MixedSet

    full = full_bytes(run["images"])
    monkeypatch.setattr(hardpos.files.images, "COPY_CHUNK_BYTES", full // 20)
    out = run["folder"] / "trainset.npz"
    recipe = Recipe(name="HC-D-4", method="hc-d", k=DIRECTIONS)
    peak = peak_bytes(lambda: build_trainset(recipe=recipe, net=1, images=run["images"],
                                             table=run["table"], out=out))  # fmt: skip
    assert peak < full / 4
    kept = load_images(out)
    assert kept.nbytes > full / 2  # most hard positives kept: the copy was large

    labels = load_dataset(out)[1]

    def read_all():
        no_crops = CropDataset(pd.DataFrame(columns=list(INDEX_COLUMNS)))
        data = MixedSet(no_crops, ImageStack([out]), labels)
        for i in range(len(data)):
            data[i]

    assert peak_bytes(read_all) < full / 4
