"""Which training images are attacked: attack.train_images as a seeded draw (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

from hardpos.errors import InputError
from hardpos.experiments.adversarials import draw_sources, generate_adversarials
from hardpos.files.datasets import load_dataset, save_dataset
from hardpos.files.images import load_images
from hardpos.files.parquet import load_table
from hardpos.mnist.lenet import LeNet, save_model


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
    import torch

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
