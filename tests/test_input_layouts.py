"""User inputs of the wrong layout or count: one line naming what was expected, never a
torch traceback and never an exit 0 with an untrained or unchanged net."""

from __future__ import annotations

import numpy as np
import pytest

import hardpos
from hardpos.cli import main
from hardpos.errors import InputError
from hardpos.mnist.lenet import LeNet
from hardpos.training.lenet_training import train


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((4, 28, 28, 1), "these look channels-last"),
        ((4, 3, 28, 28), "expected input.* to have 1 channels"),
        ((4, 1, 32, 32), "images of shape \\(4, 1, 32, 32\\) do not fit the model"),
    ],
)
def test_images_of_the_wrong_layout_name_the_shape_expected(shape, message):
    images = np.zeros(shape, np.uint8)
    with pytest.raises(InputError, match=message) as caught:
        hardpos.generate(LeNet(seed=1), images, np.zeros(4, int), methods="fgs")
    assert "expected [N, C, H, W]" in str(caught.value)


def test_the_attack_command_names_channels_last_images(tmp_path, capsys):
    from hardpos.files.datasets import save_dataset
    from hardpos.mnist.lenet import save_model

    save_model(tmp_path / "net.pt", LeNet(seed=1), {})
    save_dataset(tmp_path / "x.npz", np.zeros((3, 28, 28, 1), np.uint8), np.zeros(3, np.int64))
    images, out = str(tmp_path / "x.npz"), str(tmp_path / "o")
    code = main(["attack", "--model", str(tmp_path / "net.pt"), "--images", images,
                 "--methods", "fgs", "--out", out])  # fmt: skip
    assert code != 0
    err = capsys.readouterr().err
    assert "these look channels-last" in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["-5", "0", "ten"])
def test_train_refuses_an_iteration_count_that_is_not_a_count(value, capsys, tmp_path):
    with pytest.raises(SystemExit) as caught:
        main(["train", "--mnist-dir", str(tmp_path), "--iterations", value,
              "--out", str(tmp_path / "n.pt")])  # fmt: skip
    assert caught.value.code == 2
    assert "--iterations" in capsys.readouterr().err


def test_an_init_already_past_the_iterations_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 28, 28), dtype=np.uint8)
    labels = np.arange(8) % 10
    checkpoint = tmp_path / "first.ckpt"
    train(images, labels, seed=1, iterations=3, checkpoint=checkpoint, checkpoint_every=3)
    with pytest.raises(InputError, match="is at iteration 3 already, and iterations is 3"):
        train(images, labels, seed=1, iterations=3, init=checkpoint)
