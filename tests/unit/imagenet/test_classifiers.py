"""The ImageNet branch: torchvision wrappers, weight files, center crops, fine-tuning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from PIL import Image

from hardpos.errors import DataError, ModelError
from hardpos.experiments.models import load_model
from hardpos.imagenet.classifiers import (
    MEAN,
    STD,
    ImageNetClassifier,
    load_classifier,
    save_classifier,
)
from hardpos.imagenet.folders import center_crop, load_crops, scan_split
from hardpos.metrics.classification import select_correct, topk_errors
from hardpos.training.classifier_finetuning import finetune
from hardpos.training.solver import Solver


def _raw_network(arch: str, classes: int) -> torch.nn.Module:
    """The torchvision network as torchvision users build it for its ImageNet weights."""
    if arch == "googlenet":
        return torchvision.models.GoogLeNet(
            num_classes=classes, aux_logits=False, transform_input=True, init_weights=False
        )
    return torchvision.models.resnet152(num_classes=classes)


def _weights(tmp_path, arch: str, classes: int = 5, seed: int = 0):
    torch.manual_seed(seed)
    model = ImageNetClassifier(arch, classes).eval()
    path = tmp_path / f"{arch}.pth"
    torch.save(model.net.state_dict(), path)
    return path, model


@pytest.mark.parametrize("arch", ["googlenet", "resnet152"])
def test_logits_equal_torchvisions_on_input_normalised_independently(tmp_path, arch):
    path, _ = _weights(tmp_path, arch)
    model = load_classifier(arch, path)
    raw = _raw_network(arch, 5)
    raw.load_state_dict(torch.load(path, weights_only=True))
    raw.eval()
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(2, 3, 224, 224), dtype=np.uint8)
    normalised = (pixels.astype(np.float64) / 255.0 - np.array(MEAN)[None, :, None, None]) / (
        np.array(STD)[None, :, None, None]
    )
    with torch.no_grad():
        expected = raw(torch.from_numpy(normalised).float())
        got = model.logits(torch.from_numpy(pixels))
    assert got.shape == (2, 5)
    scale = float(expected.abs().max())
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)
    assert not model.training


def test_googlenet_checkpoint_with_auxiliary_heads_loads_without_them(tmp_path):
    torch.manual_seed(0)
    full = torchvision.models.GoogLeNet(num_classes=7, aux_logits=True, init_weights=True)
    path = tmp_path / "googlenet-aux.pth"
    torch.save(full.state_dict(), path)
    assert any(k.startswith("aux1.") for k in full.state_dict())
    model = load_classifier("googlenet", path)
    assert model.num_classes == 7
    assert model.net.aux1 is None and model.net.aux2 is None
    out = model.logits(torch.zeros(1, 3, 64, 64))
    assert isinstance(out, torch.Tensor) and out.shape == (1, 7)


def test_missing_weights_file_is_a_model_error_naming_it(tmp_path):
    missing = tmp_path / "nowhere" / "googlenet.pth"
    with pytest.raises(ModelError, match=r"nowhere/googlenet\.pth: weights file not found"):
        load_classifier("googlenet", missing)


def test_weights_of_another_architecture_name_the_file_and_the_layers(tmp_path):
    path, _ = _weights(tmp_path, "googlenet")
    with pytest.raises(ModelError) as info:
        load_classifier("resnet152", path)
    message = str(info.value)
    assert str(path) in message
    assert "not a torchvision resnet152 state_dict" in message
    assert "missing conv1.weight, bn1.weight" in message
    assert "unexpected conv1.conv.weight" in message


def test_a_changed_layer_shape_is_named(tmp_path):
    path, model = _weights(tmp_path, "googlenet")
    state = model.net.state_dict()
    state["inception3a.branch1.conv.weight"] = torch.zeros(3, 3, 1, 1)
    torch.save(state, path)
    with pytest.raises(
        ModelError, match=r"shape .*inception3a\.branch1\.conv\.weight \(3, 3, 1, 1\)"
    ):
        load_classifier("googlenet", path)


def test_weights_for_another_class_count_name_both_counts(tmp_path):
    path, _ = _weights(tmp_path, "googlenet", classes=5)
    with pytest.raises(ModelError, match=r"fc layer has 5 classes but the data has 1000"):
        load_classifier("googlenet", path, num_classes=1000)


def test_a_file_that_is_not_a_state_dict_is_a_model_error(tmp_path):
    path = tmp_path / "junk.pth"
    path.write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match="junk.pth: not a readable torch file"):
        load_classifier("googlenet", path)
    torch.save([1, 2, 3], path)
    with pytest.raises(ModelError, match="junk.pth: not a state_dict"):
        load_classifier("googlenet", path)


def test_saved_classifier_loads_back_through_load_model(tmp_path):
    _, model = _weights(tmp_path, "googlenet")
    save_classifier(tmp_path / "base.pt", model, {"weights": "test"})
    again = load_model(tmp_path / "base.pt")
    assert isinstance(again, ImageNetClassifier) and again.arch == "googlenet"
    x = torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(again.logits(x), model.logits(x))


def _edge_image(width: int, height: int, x_edge: int, y_edge: int) -> Image.Image:
    """Dark left of column x_edge, bright right; a green band below row y_edge."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, x_edge:, 0] = 255
    pixels[y_edge:, :, 1] = 255
    return Image.fromarray(pixels)


def _crossing(profile: np.ndarray) -> float:
    """Where a rising 0 -> 255 profile crosses 127.5, by linear interpolation."""
    i = int(np.argmax(profile >= 127.5))
    lo, hi = float(profile[i - 1]), float(profile[i])
    return i - 1 + (127.5 - lo) / (hi - lo)


@pytest.mark.parametrize("size", [(500, 375), (375, 500), (640, 256), (300, 1000)])
def test_center_crop_geometry_matches_an_independent_computation(size):
    width, height = size
    x_edge, y_edge = int(width * 0.55), int(height * 0.45)
    crop = center_crop(_edge_image(width, height, x_edge, y_edge))
    assert crop.shape == (3, 224, 224) and crop.dtype == np.uint8
    # shorter side to 256, the other in proportion (rounded down), central 224 square
    scale = 256 / min(width, height)
    new_w, new_h = (256, int(height * scale)) if width <= height else (int(width * scale), 256)
    left, top = round((new_w - 224) / 2), round((new_h - 224) / 2)
    # a pixel edge at column e of the original sits at e * (new / old) in the resized image
    expected_x = x_edge * new_w / width - left - 0.5
    expected_y = y_edge * new_h / height - top - 0.5
    assert abs(_crossing(crop[0, 112].astype(float)) - expected_x) < 0.75
    assert abs(_crossing(crop[1, :, 112].astype(float)) - expected_y) < 0.75


def test_an_image_with_shorter_side_256_is_cropped_without_resampling():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(256, 300, 3), dtype=np.uint8)
    crop = center_crop(Image.fromarray(pixels))
    assert np.array_equal(crop, pixels[16:240, 38:262].transpose(2, 0, 1))


def test_a_crop_larger_than_the_resized_side_is_refused():
    with pytest.raises(DataError, match="crop 300 is larger"):
        center_crop(Image.new("RGB", (400, 400)), resize=256, crop=300)


def _tree(root, classes=3, per_class=4, size=40):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in range(classes):
            folder = root / split / f"n{c:03d}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                colour = np.zeros((size, size + 8, 3), np.uint8)
                colour[..., c % 3] = 200
                noise = rng.integers(0, 40, colour.shape, dtype=np.uint8)
                Image.fromarray(colour + noise).save(folder / f"{i}.png")
    return root


def test_scan_split_indexes_classes_in_sorted_order(tmp_path):
    index = scan_split(_tree(tmp_path), "train", resize=36, crop=32)
    assert len(index) == 12
    assert index["class_name"].tolist()[::4] == ["n000", "n001", "n002"]
    assert index["label"].tolist()[::4] == [0, 1, 2]
    images, labels = load_crops(index)
    assert images.shape == (12, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == index["label"].tolist()


def test_a_missing_split_names_the_folder(tmp_path):
    with pytest.raises(DataError, match=r"val: no such folder"):
        scan_split(tmp_path, "val")


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


def test_learning_rate_policies_follow_caffe():
    step = Solver(base_lr=0.01, lr_policy="step", gamma=0.5, stepsize=10)
    assert step.learning_rate(9) == 0.01 and step.learning_rate(25) == 0.01 * 0.25
    poly = Solver(base_lr=0.01, lr_policy="poly", power=0.5, max_iter=100)
    assert poly.learning_rate(75) == pytest.approx(0.005)


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


def test_pass_scores_colour_crops_of_the_attacks(tmp_path):
    """generate and PASS run unchanged on the colour crops of an ImageNet network."""
    from hardpos.attacks import generate
    from hardpos.similarity import pass_score, score_generated

    index = scan_split(_tree(tmp_path), "train", resize=36, crop=32)
    torch.manual_seed(0)
    model = ImageNetClassifier("googlenet", 3).eval()
    images, labels, _ = select_correct(model, index, per_class=1)
    assert len(images) >= 1, "nothing selected: the test would check nothing"
    adv, table = generate(model, images, labels, methods=["fgs", "hc-d-2"])
    assert adv.shape[1:] == (3, 32, 32) and len(table) == 3 * len(images)
    scored = score_generated(adv, images, table, backend="auto")
    assert isinstance(scored, pd.DataFrame) and len(scored) == len(table)
    direct = pass_score(adv, images[table["source"].to_numpy()], "opencv")
    np.testing.assert_allclose(scored["pass"], direct.scores, atol=1e-9)
    assert scored["pass"].between(-1, 1).all()
