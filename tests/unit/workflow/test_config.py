"""hardpos.workflow.config: the shipped configs validate, and the checks beyond the schema
refuse, before any job, what cannot give a meaningful result, naming the key and the value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from paths import REPO

from hardpos.errors import HardposError
from hardpos.mnist.idx import MNIST_COUNTS
from hardpos.workflow.config import ConfigError, validate_config
from hardpos.workflow.layout import layout_from_config

SCHEMA = REPO / "config" / "schema.yaml"


def _smoke() -> dict:
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    base.update(yaml.safe_load((REPO / "config" / "smoke.yaml").read_text()))
    return base


def _refused(config: dict, pattern: str) -> str:
    with pytest.raises(ConfigError, match=pattern) as caught:
        validate_config(config, SCHEMA)
    return str(caught.value)


def test_bucket_edges_that_do_not_increase_are_refused():
    config = _smoke()
    config["buckets"]["edges"] = [0.0, 0.7, 0.5, 1.0]
    message = _refused(config, r"buckets\.edges: must be strictly increasing")
    assert "buckets.edges[1] = 0.7 is followed by buckets.edges[2] = 0.5" in message


def test_equal_bucket_edges_are_refused():
    config = _smoke()
    config["buckets"]["edges"] = [0.0, 0.7, 0.7, 1.0]
    _refused(config, r"buckets\.edges: must be strictly increasing")


def test_disabled_buckets_are_not_checked():
    config = _smoke()
    config["buckets"].update(enabled=False, edges=[0.9, 0.1])
    validate_config(config, SCHEMA)


@pytest.mark.parametrize(
    ("key", "value", "pattern"),
    [
        ("heldout.types", ["FGS", "HC-10"], r"heldout\.types\[1\] \(HC-10\): hot rank 10 is not"),
        ("heldout.types", ["HC-S-12"], r"heldout\.types\[0\] \(HC-S-12\): hot rank 12"),
        (
            "heldout.types",
            ["HC-1x0.5"],
            r"heldout\.types\[0\] \(HC-1x0\.5\): factor 0\.5 is below 1",
        ),
        ("figures.gallery_types", ["HC-11"], r"figures\.gallery_types\[0\] \(HC-11\)"),
        ("buckets.k", 10, r"buckets\.k: hot rank 10 is not possible with 10 classes"),
    ],
)
def test_hot_ranks_beyond_the_classes_are_refused(key, value, pattern):
    config = _smoke()
    section, name = key.split(".")
    config[section][name] = value
    message = _refused(config, pattern)
    if "hot rank" in message:
        assert "allowed: 1..9" in message


@pytest.mark.parametrize(
    ("recipe", "pattern"),
    [
        (
            {"name": "x", "method": "hc-d", "k": 10},
            r"recipes\[4\]: recipe 'x', k: hot rank 10 .*1\.\.9",
        ),
        (
            {"name": "x", "method": "fgs", "k": 3},
            r"recipes\[4\]: recipe 'x': k applies to hc-d and hc-s only \(k 3 given for fgs\)",
        ),
        (
            {"name": "x", "method": "none", "tau": 0.5},
            r"recipes\[4\]: recipe 'x': method none .* tau",
        ),
        ({"name": "x", "method": "none", "k": 2}, r"method none \(clean images\) takes no k"),
        (
            {"name": "x", "method": "hc-d", "k": 9, "factor": "frontier"},
            r"recipes\[4\]: recipe 'x': factor: frontier needs tau",
        ),
        (
            {"name": "x", "method": "hc-d", "factor": 1.1, "frontier_factors": [1.0, 1.2]},
            r"recipes\[4\]: recipe 'x': frontier_factors needs factor: frontier",
        ),
        (
            {"name": "x", "method": "hc-d", "factor": "far"},
            r"recipes\.4\.factor: 'far' is not a number >= 1 .* or frontier",
        ),
    ],
)
def test_recipes_whose_options_do_not_combine_are_refused(recipe, pattern):
    config = _smoke()
    config["recipes"] = [*config["recipes"][:4], recipe]  # the new recipe is recipes[4]
    _refused(config, pattern)


def test_imagenet_hot_ranks_follow_the_synthetic_classes():
    config = _smoke()
    config["dataset"] = "imagenet"
    config["imagenet"]["synthetic"] = {"classes": 4, "train_per_class": 2, "val_per_class": 2}
    config["imagenet"]["gallery_types"] = ["HC-3"]
    config["recipes"] = [{"name": "r", "method": "hc-d", "k": 3}]
    validate_config(config, SCHEMA)  # the MNIST-only held-out types are not checked
    config["imagenet"]["gallery_types"] = ["HC-4"]
    _refused(config, r"imagenet\.gallery_types\[0\] \(HC-4\): hot rank 4 .* 4 classes")


def test_a_heldout_size_the_attacked_images_cannot_supply_is_refused():
    config = _smoke()  # 1 base net attacking 100 test images: at most 100 of each type
    config["heldout"]["per_type"] = 100000
    message = _refused(config, r"heldout\.per_type: 100000 images per type asked")
    assert "at most 100 of each type" in message and "heldout.allow_fewer: true" in message
    config["heldout"]["per_type"] = 100
    validate_config(config, SCHEMA)  # exactly the bound is possible
    config["heldout"].update(per_type=100000, allow_fewer=True)
    validate_config(config, SCHEMA)


def test_a_bucket_size_the_pool_cannot_supply_is_refused():
    config = _smoke()  # 150 training images x 9 ranks x 3 factors = 4050 at most
    config["buckets"]["per_bucket"] = 1000000
    message = _refused(config, r"buckets\.per_bucket: 1000000 images per bucket asked")
    assert "at most 4050" in message
    config["buckets"]["allow_fewer"] = True
    validate_config(config, SCHEMA)


@pytest.mark.parametrize("section", ["attack", "pass"])
def test_batch_sizes_take_auto_and_name_anything_else(section):
    config = _smoke()
    config[section]["batch_size"] = "auto"
    validate_config(config, SCHEMA)
    config[section]["batch_size"] = "big"
    _refused(config, rf"{section}\.batch_size: 'big' is not a positive integer, or auto")


@pytest.mark.parametrize("name", ["basic", "InfiMNIST-style"])
def test_a_recipe_cannot_take_a_name_table_1_gives_its_own_rows(name):
    """A recipe called basic once put fine-tuned nets into the base nets' row."""
    config = _smoke()
    config["recipes"].append({"name": name, "method": "fgs"})
    validate_config(config, SCHEMA)  # the schema allows the name; the layout refuses it
    with pytest.raises(HardposError, match=f"recipe '{name}': Table 1 gives this name"):
        layout_from_config(config)


@pytest.mark.parametrize("split", ["train", "test"])
def test_more_attacked_images_than_mnist_holds_are_refused_before_any_job(split):
    config = _smoke()
    config["attack"][f"{split}_images"] = MNIST_COUNTS[split] + 1
    _refused(config, f"attack.{split}_images: {MNIST_COUNTS[split] + 1}, but MNIST's {split}")


def test_a_results_path_that_is_a_file_is_named(tmp_path: Path):
    config = _smoke()
    config["results"] = str(tmp_path / "a-file")
    (tmp_path / "a-file").write_text("")
    _refused(config, "results: '.*a-file' is a file, not a folder")


def test_a_link_planted_where_snakemake_writes_benchmarks_is_refused(tmp_path: Path):
    from hardpos.workflow.config import check_no_links

    (tmp_path / "results" / "benchmarks" / "finetune").mkdir(parents=True)
    check_no_links(tmp_path / "results")
    outside = tmp_path / "outside.tsv"
    link = tmp_path / "results" / "benchmarks" / "finetune" / "FGS-net1-order1.tsv"
    link.symlink_to(outside)
    with pytest.raises(ConfigError, match="FGS-net1-order1.tsv: a symbolic link"):
        check_no_links(tmp_path / "results")
    assert not outside.exists()


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
