"""Config validation names the offending key; the shipped configs are valid."""

from __future__ import annotations

import pytest
import yaml
from paths import REPO

from hardpos.workflow.config import ConfigError, validate_config

SCHEMA = REPO / "config" / "schema.yaml"


def _load(name: str) -> dict:
    """A config as Snakemake sees it: config.yaml overlaid by ``name``."""
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    if name != "config.yaml":
        base.update(yaml.safe_load((REPO / "config" / name).read_text()))
    return base


@pytest.mark.parametrize("name", ["config.yaml", "smoke.yaml", "mini.yaml"])
def test_shipped_configs_are_valid(name):
    validate_config(_load(name), SCHEMA)


def test_unknown_key_is_named_with_the_allowed_keys():
    config = _load("smoke.yaml")
    config["base"]["iteratoins"] = 5
    with pytest.raises(ConfigError, match=r"unknown key 'iteratoins' in base; allowed keys there:"):
        validate_config(config, SCHEMA)


def test_bad_value_names_the_key_path():
    config = _load("smoke.yaml")
    config["solver"]["batch_size"] = "64"
    with pytest.raises(ConfigError, match=r"config key solver.batch_size: '64' is not of type"):
        validate_config(config, SCHEMA)


@pytest.mark.parametrize("name", ["imagenet.yaml", "imagenet-smoke.yaml"])
def test_imagenet_configs_are_valid_and_leave_the_mnist_default(name):
    validate_config(_load(name), SCHEMA)
    assert _load(name)["dataset"] == "imagenet"
    assert _load("config.yaml")["dataset"] == "mnist"
