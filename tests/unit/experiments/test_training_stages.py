"""hardpos.experiments.training_stages: the nets a stage writes and their sidecars."""

from __future__ import annotations

import json

import pytest
import torch

from hardpos.errors import InputError
from hardpos.training.checkpoints import load_checkpoint

from ..conftest import _max_difference, _toy_data, _weights_equal


def test_train_nets_writes_each_net_as_train_net_does(tmp_path):
    """The stacked job's outputs: per net a model file, sidecar and solver state that
    fine-tuning can continue from, with the weights of that net's own train_net job."""
    from hardpos.experiments.training_stages import train_net, train_nets
    from hardpos.files.datasets import save_dataset
    from hardpos.files.sidecars import read_sidecar
    from hardpos.mnist.lenet import load_lenet

    images, labels = _toy_data()
    save_dataset(tmp_path / "train.npz", images, labels)
    save_dataset(tmp_path / "added.npz", *_toy_data(30, seed=4))
    save_dataset(tmp_path / "test.npz", *_toy_data(40, seed=5))
    sets = [tmp_path / "train.npz", tmp_path / "added.npz"]
    common = dict(train_sets=sets, test_set=tmp_path / "test.npz", iterations=8,
                  solver={"batch_size": 16}, checkpoint_every=4, device="cpu",
                  extra_fraction=0.25, meta={"rule": "test"})  # fmt: skip
    train_nets(seeds=[3, 4], out_models=[tmp_path / "a.pt", tmp_path / "b.pt"],
               out_solvers=[tmp_path / "a.solver", tmp_path / "b.solver"],
               checkpoint=tmp_path / "ab.ckpt", **common)  # fmt: skip
    train_net(seed=4, out_model=tmp_path / "alone.pt", out_solver=tmp_path / "alone.solver",
              checkpoint=tmp_path / "alone.ckpt", **common)  # fmt: skip
    stacked_side, alone_side = read_sidecar(tmp_path / "b.pt"), read_sidecar(tmp_path / "alone.pt")
    assert stacked_side.keys() == alone_side.keys()
    assert stacked_side["seed"] == 4 and stacked_side["iterations"] == 8
    assert stacked_side["added_images"] == 30 and stacked_side["rule"] == "test"
    assert stacked_side["train_images"] == len(images) + 30
    assert stacked_side["test"]["n"] == 40
    assert _max_difference(load_lenet(tmp_path / "b.pt"), load_lenet(tmp_path / "alone.pt")) < 1e-5
    solver_state = load_checkpoint(tmp_path / "b.solver", torch.device("cpu"))[0]
    assert solver_state.iteration == 8
    assert _weights_equal(solver_state.model, load_lenet(tmp_path / "b.pt"))
    assert read_sidecar(tmp_path / "a.pt")["seed"] == 3
    with pytest.raises(InputError, match="2 seeds need as many model and solver outputs, got 1"):
        train_nets(seeds=[3, 4], out_models=[tmp_path / "a.pt"], out_solvers=[tmp_path / "a.s"],
                   checkpoint=tmp_path / "x.ckpt", **common)  # fmt: skip


def test_a_base_nets_sidecar_counts_the_images_it_trained_on(tmp_path):
    """A base net's sidecar once said train_images: 0 (the count of added images); the
    evaluation record and Table 1 still read the added count, from old records too."""
    from hardpos.experiments.evaluation import evaluate_model
    from hardpos.experiments.training_stages import train_net
    from hardpos.files.datasets import save_dataset
    from hardpos.files.sidecars import read_sidecar
    from hardpos.report.table1 import load_evaluations, table1

    save_dataset(tmp_path / "train.npz", *_toy_data(48))
    save_dataset(tmp_path / "added.npz", *_toy_data(16, seed=3))
    save_dataset(tmp_path / "test.npz", *_toy_data(20, seed=5))
    common = dict(test_set=tmp_path / "test.npz", iterations=2, solver={"batch_size": 8},
                  checkpoint_every=2, device="cpu")  # fmt: skip
    for name, sets in (("base", ["train.npz"]), ("tuned", ["train.npz", "added.npz"])):
        model = tmp_path / f"{name}.pt"
        train_net(train_sets=[tmp_path / s for s in sets], seed=1, out_model=model,
                  out_solver=tmp_path / f"{name}.solver", checkpoint=tmp_path / f"{name}.ckpt",
                  **common)  # fmt: skip
        evaluate_model(model=model, mnist_test=tmp_path / "test.npz", device="cpu",
                       out=tmp_path / f"{name}.json", meta={"recipe": name})  # fmt: skip
    base, tuned = read_sidecar(tmp_path / "base.pt"), read_sidecar(tmp_path / "tuned.pt")
    assert (base["train_images"], base["added_images"]) == (48, 0)
    assert (tuned["train_images"], tuned["added_images"]) == (64, 16)
    record = json.loads((tmp_path / "tuned.json").read_text())
    assert (record["train_images"], record["added_images"]) == (64, 16)
    old = {"recipe": "old", "train_images": 7, "mnist_test": {"error": 0.5, "n": 2, "wrong": 1}}
    (tmp_path / "old.json").write_text(json.dumps(old))  # added images, as records once said
    paths = [tmp_path / f"{name}.json" for name in ("base", "tuned", "old")]
    table = table1(load_evaluations(paths)).set_index("recipe")["added_images"]
    assert table.to_dict() == {"base": 0, "tuned": 16, "old": 7}
