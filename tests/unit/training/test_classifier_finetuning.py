"""hardpos.training.classifier_finetuning: resumed fine-tuning and fine-tuning on added
image files."""

from __future__ import annotations

import numpy as np
import torch

from hardpos.imagenet.classifiers import ImageNetClassifier
from hardpos.imagenet.folders import scan_split
from hardpos.training.classifier_finetuning import finetune
from hardpos.training.solver import Solver

from ..conftest import _tree


def test_fine_tuning_resumed_from_a_checkpoint_ends_with_the_same_weights(tmp_path):
    index = scan_split(_tree(tmp_path / "tree"), "train", resize=36, crop=32)
    added = np.random.default_rng(1).integers(0, 256, (5, 3, 32, 32), dtype=np.uint8)
    added_labels = np.array([0, 1, 2, 0, 1])
    solver = Solver(base_lr=0.01, batch_size=4, lr_policy="fixed")

    def run(iterations, checkpoint):
        torch.manual_seed(0)
        model = ImageNetClassifier("googlenet", 3)
        return finetune(model, index, added, added_labels, seed=3, iterations=iterations,
                        solver=solver, checkpoint=checkpoint, checkpoint_every=2,
                        extra_fraction=0.25)  # fmt: skip

    whole = run(4, tmp_path / "whole.ckpt")
    run(2, tmp_path / "split.ckpt")  # "killed" after iteration 2
    resumed = run(4, tmp_path / "split.ckpt")
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    torch.manual_seed(0)  # the runs' own start: fine-tuning must have moved the weights
    start = ImageNetClassifier("googlenet", 3)
    assert not torch.equal(start.net.fc.weight, whole.net.fc.weight)
    assert not torch.equal(start.net.fc.bias, whole.net.fc.bias)


def test_fine_tuning_on_added_image_files_equals_fine_tuning_on_the_array(tmp_path):
    """Added images read per item from memory-mapped files (split over two files, in
    DataLoader worker processes) give the same batches and weights as one array."""
    from hardpos.files.datasets import save_dataset
    from hardpos.files.images import ImageStack

    index = scan_split(_tree(tmp_path / "tree"), "train", resize=36, crop=32)
    added = np.random.default_rng(1).integers(0, 256, (5, 3, 32, 32), dtype=np.uint8)
    added_labels = np.array([0, 1, 2, 0, 1])
    save_dataset(tmp_path / "a.npz", added[:2], added_labels[:2])
    save_dataset(tmp_path / "b.npz", added[2:], added_labels[2:])
    files = ImageStack([tmp_path / "a.npz", tmp_path / "b.npz"], shape=(3, 32, 32))
    solver = Solver(base_lr=0.01, batch_size=4, lr_policy="fixed")

    def run(images, workers):
        torch.manual_seed(0)
        model = ImageNetClassifier("googlenet", 3)
        return finetune(model, index, images, added_labels, seed=3, iterations=3,
                        solver=solver, extra_fraction=0.25, workers=workers)  # fmt: skip

    in_memory, from_files = run(added, 0), run(files, 2)
    for a, b in zip(in_memory.state_dict().values(), from_files.state_dict().values(), strict=True):
        assert torch.equal(a, b)
