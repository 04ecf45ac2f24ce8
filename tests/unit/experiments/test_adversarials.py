"""hardpos.experiments.adversarials: the seeded draw of the attacked sources, streamed
generation equal to ``generate`` in memory, and host memory that does not grow with the
number of images (tracemalloc; the in-memory control goes above the bound)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from hardpos.attacks import generate
from hardpos.errors import InputError
from hardpos.experiments.adversarials import draw_sources, generate_adversarials
from hardpos.files.datasets import load_dataset, save_dataset
from hardpos.files.images import load_images, save_images
from hardpos.files.parquet import load_table
from hardpos.mnist.lenet import LeNet, save_model

from ..conftest import own_labels
from .conftest import DIRECTIONS, SHAPE, SOURCES, full_bytes, peak_bytes


@pytest.mark.filterwarnings("error::UserWarning")  # no tensor over the read-only map
def test_streamed_generation_equals_generate_in_memory(tmp_path, monkeypatch):
    """The stage writes each chunk as it is made; the file and table are generate's."""
    import hardpos.attacks.generation
    from hardpos.experiments.adversarials import generate_adversarials
    from hardpos.experiments.models import load_model
    from hardpos.files.datasets import save_dataset
    from hardpos.files.images import load_images
    from hardpos.files.parquet import load_table, save_table
    from hardpos.mnist.lenet import save_model

    save_model(tmp_path / "net.pt", LeNet(seed=5).eval(), {"seed": 5})
    model = load_model(tmp_path / "net.pt")
    images = (np.random.default_rng(2).random((40, 28, 28)) ** 3 * 255).astype(np.uint8)
    labels = own_labels(model.double(), images)
    labels[[3, 17, 18]] = (labels[[3, 17, 18]] + 1) % 10  # sources that are not attacked
    save_dataset(tmp_path / "set.npz", images, labels)
    out = {"out_images": tmp_path / "adv.npz", "out_table": tmp_path / "table.parquet"}
    monkeypatch.setattr(hardpos.attacks.generation, "TABLE_MERGE", 3)  # tables merged on the way
    generate_adversarials(
        model=tmp_path / "net.pt", dataset=tmp_path / "set.npz", family="hc-d", k=2,
        factors=[1.0, 1.1], limit=None, net=3, batch_size=7, device="cpu", **out,
    )  # fmt: skip
    # batch_size 7 over 2 directions: 3 sources per chunk, 14 chunks
    adv, table = generate(load_model(tmp_path / "net.pt"), images, labels, methods="hc-d-2",
                          factors=[1.0, 1.1], batch_size=7)  # fmt: skip
    assert len(table) == 37 * 2 * 2 and 3 not in set(table["source"])
    np.testing.assert_array_equal(load_images(out["out_images"]), adv)
    save_table(tmp_path / "expected.parquet", table.assign(net=3))
    pd.testing.assert_frame_equal(
        load_table(out["out_table"]), load_table(tmp_path / "expected.parquet")
    )


def test_a_count_is_the_first_correct_images_of_one_seeded_permutation():
    correct = np.ones(20, bool)
    order = np.random.default_rng(7).permutation(20)
    assert list(draw_sources(correct, 5, seed=7)) == sorted(order[:5])
    # a misclassified image is never drawn; the next one in the permutation takes its place
    correct[order[0]] = False
    assert list(draw_sources(correct, 5, seed=7)) == sorted(order[1:6])


def test_a_share_is_of_the_correctly_classified_images():
    correct = np.arange(10) % 5 != 0  # 8 correct
    chosen = draw_sources(correct, 0.5, seed=0)
    assert len(chosen) == 4 and correct[chosen].all()
    assert len(draw_sources(correct, 1.0, seed=0)) == 8


@pytest.mark.parametrize(
    ("count", "message"),
    [(0, "must be at least 1"), (1.5, "neither a count"), (True, "neither a count"),
     (9, "9 images asked for but only 8 of 10")],
)  # fmt: skip
def test_impossible_counts_name_the_key_and_value(count, message):
    with pytest.raises(InputError, match=f"attack.train_images: .*{message}"):
        draw_sources(np.arange(10) % 5 != 0, count, seed=0)


def test_drawn_sources_index_the_split_not_the_subset(tmp_path):
    model = LeNet(seed=5).eval()
    images = (np.random.default_rng(1).random((30, 28, 28)) ** 3 * 255).astype(np.uint8)

    with torch.no_grad():
        labels = model.logits(torch.from_numpy(images[:, None]).float()).argmax(1).numpy()
    labels[::3] = (labels[::3] + 1) % 10  # a third misclassified: never drawn
    save_model(tmp_path / "net.pt", model, {"seed": 5})
    save_dataset(tmp_path / "set.npz", images, labels)
    out_images, out_table = tmp_path / "adv.npz", tmp_path / "adv.parquet"
    generate_adversarials(model=tmp_path / "net.pt", dataset=tmp_path / "set.npz",
                          family="fgs", k=0, factors=[1.0], limit=None, net=1,
                          out_images=out_images, out_table=out_table, batch_size=64,
                          device="cpu", draw={"count": 6, "seed": 3})  # fmt: skip
    table, adv = load_table(out_table), load_images(out_images)
    expected = draw_sources(np.arange(30) % 3 != 0, 6, seed=3)
    assert list(table["source"]) == list(expected)
    originals, split_labels = load_dataset(tmp_path / "set.npz")
    assert (table["label"].to_numpy() == split_labels[table["source"]]).all()
    diff = np.abs(adv[:, 0].astype(int) - originals[table["source"]].astype(int))
    assert np.allclose(diff.reshape(len(diff), -1).max(axis=1), table["linf"])


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
