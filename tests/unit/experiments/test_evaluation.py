"""The held-out set and its errors: building the set from several nets' files, the
own/other split of a fine-tuned net's held-out error, and evaluate_model's values.

Every expected number is counted here by hand from masks written into the data.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from hardpos.errors import DataError
from hardpos.experiments.evaluation import evaluate_model, heldout_errors
from hardpos.experiments.trainsets import build_heldout
from hardpos.files.datasets import load_dataset, save_dataset
from hardpos.files.images import save_images
from hardpos.files.parquet import load_table, save_table
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


def _generated_files(tmp_path, net: int, family: str, rows: list[tuple]) -> tuple[str, str]:
    """An (images, table) pair as the generate stage writes it. Each image carries its
    (net, family, row) in its first three pixels, so a copied image can be traced."""
    fam = {"fgs": 1, "hc-d": 2}[family]
    images = np.zeros((len(rows), 1, 28, 28), np.uint8)
    for i in range(len(rows)):
        images[i, 0, 0, :3] = (net, fam, i)
    table = pd.DataFrame(rows, columns=["method", "k", "factor", "success", "label"])
    table["source"] = np.arange(len(rows))
    table["net"] = net
    image_path, table_path = tmp_path / f"{net}-{family}.npz", tmp_path / f"{net}-{family}.pq"
    save_images(image_path, images)
    save_table(table_path, table)
    return str(image_path), str(table_path)


def test_building_the_heldout_set_copies_each_chosen_image_with_its_row_and_label(tmp_path):
    """Catches: row offsets not carried across nets or files (images of net 2 taken from
    net 1's file), labels not the table's, a type short of images failing or padded.
    Three FGS per net and two HC-1x1.05 in all (one a failure), per_type 3."""
    generated = {}
    for net in (1, 2):
        fgs = _generated_files(tmp_path, net, "fgs", [
            ("fgs", 0, 1.0, True, (net * 10 + i) % 10) for i in range(3)
        ])  # fmt: skip
        hcd = _generated_files(tmp_path, net, "hc-d", [
            ("hc-d", 1, 1.0, True, 4), ("hc-d", 1, 1.05, net == 2, 5),
            ("hc-d", 1, 1.05, True, 6 + net),
        ])  # fmt: skip
        generated[net] = [fgs, hcd]
    out_set, out_table = tmp_path / "heldout.npz", tmp_path / "heldout.parquet"
    # HC-1x1.05 is short (one of its two rows failed): allowed here, refused by default
    build_heldout(generated=generated, types=["FGS", "HC-1x1.05"], per_type=3, seed=0,
                  out_set=out_set, out_table=out_table, allow_fewer=True)  # fmt: skip
    images, labels = load_dataset(out_set)
    table = load_table(out_table)
    assert len(images) == len(labels) == len(table) == 3 + 3
    assert table["type"].value_counts().to_dict() == {"FGS": 3, "HC-1x1.05": 3}
    originals = {
        (net, fam): load_table(pair[1]) for net, pairs in generated.items()
        for fam, pair in zip((1, 2), pairs, strict=True)
    }  # fmt: skip
    images = np.asarray(images).reshape(len(images), 28, 28)
    for i, row in table.iterrows():
        net, fam, r = (int(v) for v in images[i, 0, :3])
        assert net == row["net"], i
        source = originals[(net, fam)].iloc[r]
        assert source["success"]
        assert labels[i] == source["label"] == row["label"]
        assert row["type"] == ("FGS" if fam == 1 else "HC-1x1.05")
        assert row["source"] == source["source"]
    # the shortfall: only three successful HC-1x1.05 exist (net 1: row 2; net 2: rows 1, 2)
    hc = table[table["type"] == "HC-1x1.05"]
    assert sorted(zip(hc["net"], hc["source"], strict=True)) == [(1, 2), (2, 1), (2, 2)]
    with pytest.raises(DataError, match=r"per_type is 5 .* HC-1x1.05 3"):
        build_heldout(generated=generated, types=["HC-1x1.05"], per_type=5, seed=0,
                      out_set=out_set, out_table=out_table)  # fmt: skip
    build_heldout(generated=generated, types=["HC-1x1.05"], per_type=5, seed=0,
                  out_set=out_set, out_table=out_table, allow_fewer=True)  # fmt: skip
    assert len(load_table(out_table)) == 3


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
