"""hardpos.experiments.evaluation: the own/other split of a fine-tuned net's held-out error,
and evaluate_model's values."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch

from hardpos.experiments.evaluation import evaluate_model, heldout_errors
from hardpos.files.datasets import save_dataset
from hardpos.files.parquet import save_table
from hardpos.mnist.lenet import LeNet, save_model


def test_heldout_errors_split_by_parent_net_and_type():
    """Catches: own and other swapped, the split taken on another column, types read
    from the overall error. Parent net 2; the errors differ in every part."""
    table = pd.DataFrame(
        {
            "net": [1, 2, 2, 3, 2, 1, 3, 2],
            "type": ["FGS", "FGS", "HC-1", "HC-1", "FGS", "HC-1", "FGS", "HC-1"],
        }
    )
    wrong = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=bool)
    got = heldout_errors(wrong, table, parent_net=2)
    assert got["heldout"] == {"error": 4 / 8, "n": 8, "wrong": 4}
    # own: rows 1, 2, 4, 7 (wrong: 4); other: rows 0, 3, 5, 6 (wrong: 0, 5, 6)
    assert got["heldout_own"] == {"error": 1 / 4, "n": 4, "wrong": 1}
    assert got["heldout_other"] == {"error": 3 / 4, "n": 4, "wrong": 3}
    # FGS: rows 0, 1, 4, 6 (wrong: 0, 4, 6); HC-1: rows 2, 3, 5, 7 (wrong: 5)
    assert got["heldout_by_type"] == {
        "FGS": {"error": 3 / 4, "n": 4, "wrong": 3},
        "HC-1": {"error": 1 / 4, "n": 4, "wrong": 1},
    }
    assert "heldout_own" not in heldout_errors(wrong, table, parent_net=None)


def test_evaluate_model_writes_the_error_counts_of_its_predictions(tmp_path):
    """Catches: errors of another set written under a key, own/other swapped, the wrong
    labels compared. Labels are the model's own predictions with chosen ones flipped."""
    model = LeNet(seed=2).eval()
    save_model(tmp_path / "net.pt", model, {"seed": 2, "train_images": 7})
    rng = np.random.default_rng(0)

    def labelled(n: int, flip: list[int]) -> tuple[np.ndarray, np.ndarray]:
        images = (rng.random((n, 28, 28)) ** 3 * 255).astype(np.uint8)
        with torch.no_grad():
            own = model.logits(torch.as_tensor(images).unsqueeze(1).float()).argmax(1).numpy()
        own[flip] = (own[flip] + 1) % 10
        return images, own

    test_images, test_labels = labelled(20, [1, 5, 6])
    save_dataset(tmp_path / "test.npz", test_images, test_labels)
    adv, adv_labels = labelled(10, [0, 3, 4, 8])
    save_dataset(tmp_path / "heldout.npz", adv, adv_labels)
    save_table(tmp_path / "heldout.parquet", pd.DataFrame({
        "net": [1, 2, 2, 1, 3, 2, 1, 1, 3, 2],
        "type": ["FGS"] * 5 + ["HC-1"] * 5,
    }))  # fmt: skip
    out = tmp_path / "eval.json"
    evaluate_model(model=tmp_path / "net.pt", mnist_test=tmp_path / "test.npz", out=out,
                   heldout_set=tmp_path / "heldout.npz",
                   heldout_table=tmp_path / "heldout.parquet", parent_net=1,
                   meta={"recipe": "FGS", "net": 1}, device="cpu")  # fmt: skip
    record = json.loads(out.read_text())
    assert record["recipe"] == "FGS" and record["added_images"] == 7  # as sidecars once said
    assert record["mnist_test"] == {"error": 3 / 20, "n": 20, "wrong": 3}
    assert record["heldout"] == {"error": 4 / 10, "n": 10, "wrong": 4}
    # net 1 rows: 0, 3, 6, 7 (flipped: 0, 3); others: 1, 2, 4, 5, 8, 9 (flipped: 4, 8)
    assert record["heldout_own"] == {"error": 2 / 4, "n": 4, "wrong": 2}
    assert record["heldout_other"] == {"error": 2 / 6, "n": 6, "wrong": 2}
    # FGS rows 0..4 (flipped 0, 3, 4), HC-1 rows 5..9 (flipped 8)
    assert record["heldout_by_type"] == {
        "FGS": {"error": 3 / 5, "n": 5, "wrong": 3},
        "HC-1": {"error": 1 / 5, "n": 5, "wrong": 1},
    }
