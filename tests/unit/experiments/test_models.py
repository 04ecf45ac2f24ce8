"""hardpos.experiments.models (``load_model``): LeNet and ImageNet classifiers saved and
loaded back, and damaged or foreign model files named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hardpos.errors import ModelError
from hardpos.experiments.models import load_model
from hardpos.files.sidecars import sidecar_path
from hardpos.imagenet.classifiers import (
    ImageNetClassifier,
    save_classifier,
)
from hardpos.mnist.lenet import LeNet, save_model

from ..conftest import _weights


def test_saved_classifier_loads_back_through_load_model(tmp_path):
    _, model = _weights(tmp_path, "googlenet")
    save_classifier(tmp_path / "base.pt", model, {"weights": "test"})
    again = load_model(tmp_path / "base.pt")
    assert isinstance(again, ImageNetClassifier) and again.arch == "googlenet"
    x = torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(again.logits(x), model.logits(x))


def test_saved_model_round_trips_with_sidecar(tmp_path):
    model = LeNet(seed=7)
    save_model(tmp_path / "m.pt", model, {"seed": 7})
    loaded = load_model(tmp_path / "m.pt")
    x = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 1, 28, 28)).astype(np.uint8))
    torch.testing.assert_close(loaded.logits(x), model.logits(x))
    assert '"seed": 7' in sidecar_path(tmp_path / "m.pt").read_text()


def test_missing_or_foreign_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        load_model(tmp_path / "absent.pt")
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ModelError, match="do not fit Caffe's LeNet"):
        load_model(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match="not a readable torch file"):
        load_model(tmp_path / "junk.pt")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_model_with_non_finite_weights_is_refused_naming_the_tensor(tmp_path, bad):
    """A diverged run's model once evaluated to an error of 0.902 with exit 0."""
    model = LeNet(seed=1)
    with torch.no_grad():
        model.conv2.weight[0, 0, 0, 0] = bad
    save_model(tmp_path / "net.pt", model, {})
    with pytest.raises(ModelError, match=r"net.pt: conv2.weight holds NaN or infinite"):
        load_model(tmp_path / "net.pt")


def test_a_model_of_another_architecture_names_the_first_layer_that_does_not_fit(tmp_path):
    state = LeNet(seed=1).state_dict()
    state["ip1.weight"] = torch.zeros(10, 800)
    torch.save(state, tmp_path / "other.pt")
    with pytest.raises(ModelError, match=r"layer ip1.weight has shape \(10, 800\), the network"):
        load_model(tmp_path / "other.pt")
    del state["ip1.weight"]
    torch.save(state, tmp_path / "fewer.pt")
    with pytest.raises(ModelError, match="layer ip1.weight is missing"):
        load_model(tmp_path / "fewer.pt")


def test_a_model_whose_zip_directory_is_damaged_is_a_named_error(tmp_path):
    """Flipped bits in a member name of the zip's central directory once gave
    UnicodeDecodeError or BadZipFile from deep inside the zip reader."""
    save_model(tmp_path / "net.pt", LeNet(seed=1), {})
    data = bytearray((tmp_path / "net.pt").read_bytes())
    directory = data.rfind(b"PK\x01\x02")  # the last central directory entry
    failures = []
    for offset in range(directory + 46, directory + 56):  # its file name
        for bit in (0x80, 0x01):
            damaged = bytearray(data)
            damaged[offset] ^= bit
            (tmp_path / "bad.pt").write_bytes(damaged)
            try:
                load_model(tmp_path / "bad.pt")
            except ModelError as error:
                assert "bad.pt" in str(error)
            except Exception as error:  # noqa: BLE001 - what the test is about
                failures.append(f"{offset}^{bit:#x}: {type(error).__name__}: {error}")
    assert not failures, failures
