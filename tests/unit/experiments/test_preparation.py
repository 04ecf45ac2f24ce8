"""hardpos.experiments.preparation: the workflow's missing MNIST names its config key."""

from __future__ import annotations

import pytest

from hardpos.errors import DataError


def test_the_workflows_missing_mnist_names_its_config_key(tmp_path):
    from hardpos.experiments.preparation import prepare_mnist

    with pytest.raises(DataError, match="or set the config key download: true to fetch"):
        prepare_mnist(str(tmp_path), "test", download=False, out=tmp_path / "test.npz")
