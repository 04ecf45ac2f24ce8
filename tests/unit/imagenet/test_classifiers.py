"""hardpos.imagenet.classifiers: the torchvision wrappers and their weight files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from hardpos.errors import ModelError
from hardpos.imagenet.classifiers import (
    MEAN,
    STD,
    load_classifier,
)

from ..conftest import _weights


def _raw_network(arch: str, classes: int) -> torch.nn.Module:
    """The torchvision network as torchvision users build it for its ImageNet weights."""
    if arch == "googlenet":
        return torchvision.models.GoogLeNet(
            num_classes=classes, aux_logits=False, transform_input=True, init_weights=False
        )
    return torchvision.models.resnet152(num_classes=classes)


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
