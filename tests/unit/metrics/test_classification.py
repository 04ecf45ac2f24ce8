"""hardpos.metrics.classification: the correctly classified selection and top-k errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from hardpos.imagenet.classifiers import ImageNetClassifier
from hardpos.imagenet.folders import load_crops, scan_split
from hardpos.metrics.classification import select_correct, topk_errors

from ..conftest import _tree


def test_selection_keeps_only_correctly_classified_crops_per_class(tmp_path):
    index = scan_split(_tree(tmp_path), "train", resize=36, crop=32)
    torch.manual_seed(0)
    model = ImageNetClassifier("googlenet", 3).eval()
    images, labels, rows = select_correct(model, index, per_class=2, batch_size=3)
    with torch.no_grad():
        predicted = model.logits(torch.from_numpy(images)).argmax(1).numpy()
    assert np.array_equal(predicted, labels)
    assert np.array_equal(index["label"].to_numpy()[rows], labels)
    assert all(np.sum(labels == c) <= 2 for c in range(3))
    errors = topk_errors(model, index, batch_size=5)
    # three classes: top-5 takes min(5, 3) guesses, so it is 0 by definition
    assert errors["n"] == 12 and errors["top5"] == 0.0 and errors["top5_k"] == 3
    assert errors["wrong_top1"] == int((predicted_all(model, index) != index["label"]).sum())


def predicted_all(model, index) -> np.ndarray:
    images, _ = load_crops(index)
    with torch.no_grad():
        return model.logits(torch.from_numpy(images)).argmax(1).numpy()


class HandLogits(torch.nn.Module):
    """Seven classes; image i (its red value, 10 + 20 i, written by _constant_tree) gets
    the logits row i of ``table``."""

    num_classes = 7

    def __init__(self, table: np.ndarray) -> None:
        super().__init__()
        self.table = torch.as_tensor(table, dtype=torch.float32)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        i = ((x[:, 0].float().mean(dim=(1, 2)) - 10) / 20).round().long()
        return self.table[i]


def _constant_tree(root, labels: list[int], size=40):
    """One flat image per entry, in class folder n00<label>; image i has red 10 + 20 i."""
    for i, label in enumerate(labels):
        folder = root / "train" / f"n{label:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.zeros((size, size, 3), np.uint8)
        pixels[..., 0] = 10 + 20 * i
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")
    return root


def test_topk_errors_count_the_rank_of_the_true_class_in_hand_set_logits(tmp_path):
    """Catches: top-5 taking another number of guesses, top-1 read from the top-5 hit, the
    true class compared with the wrong column. The true class of image i is ranked
    ``ranks[i]``-th by hand: top-1 wrong where the rank exceeds 1, top-5 where it exceeds 5."""
    labels = [0, 0, 1, 2, 3, 4, 5, 6, 6, 2]
    ranks = [1, 2, 5, 6, 7, 1, 3, 6, 5, 1]
    rng = np.random.default_rng(0)
    table = np.zeros((len(labels), 7))
    for i, (label, rank) in enumerate(zip(labels, ranks, strict=True)):
        others = rng.permutation([c for c in range(7) if c != label])
        order = [*others[: rank - 1], label, *others[rank - 1 :]]  # highest first
        table[i, order] = np.arange(7, 0, -1) + rng.uniform(0, 0.5)
    index = scan_split(_constant_tree(tmp_path, labels), "train", resize=36, crop=32)
    # the index sorts by class folder: reorder the hand table to the index's rows
    model = HandLogits(table)
    images, index_labels = load_crops(index)
    row_of = ((images[:, 0].mean(axis=(1, 2)) - 10) / 20).round().astype(int)
    assert sorted(row_of) == list(range(len(labels)))
    assert index_labels.tolist() == [labels[i] for i in row_of]
    errors = topk_errors(model, index, batch_size=4)
    assert errors["n"] == 10 and errors["top5_k"] == 5
    assert errors["wrong_top1"] == sum(r > 1 for r in ranks) == 7
    assert errors["wrong_top5"] == sum(r > 5 for r in ranks) == 3
    assert errors["top1"] == pytest.approx(0.7) and errors["top5"] == pytest.approx(0.3)
