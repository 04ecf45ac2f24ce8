"""Workflow config validation with a one-paragraph message naming the offending key.

Snakemake's own ``validate`` prints the whole schema; a user who mistyped one key needs
only the key, what was wrong and what is allowed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import jsonschema
import yaml

from hardpos.attacks.options import check_factors
from hardpos.errors import HardposError, InputError
from hardpos.experiments.attack_options import check_hot_rank, check_recipe
from hardpos.experiments.recipes import parse_type
from hardpos.files.run_folders import WRITTEN_BY_SNAKEMAKE
from hardpos.mnist.idx import MNIST_CLASSES, MNIST_COUNTS


class ConfigError(HardposError):
    """A config key is unknown, missing or has a value of the wrong kind."""


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    where = _key_path(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return (
            f"config: unknown key {', '.join(repr(k) for k in unknown)} in {where}; "
            f"allowed keys there: {', '.join(allowed)}"
        )
    if error.validator == "required":
        return f"config: {where} is missing a required key: {error.message}"
    if error.validator == "oneOf" and "description" in error.schema:
        return f"config key {where}: {error.instance!r} is not {error.schema['description']}"
    return f"config key {where}: {error.message}"


def validate_config(config: dict[str, Any], schema_path: str | os.PathLike) -> None:
    """Raise :class:`ConfigError` naming the first offending key if ``config`` breaks the
    schema, or holds values that cannot combine (:func:`check_values`)."""
    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_describe(best))
    try:
        check_values(config)
    except InputError as exc:
        raise ConfigError(f"config key {exc}") from None


# ---- checks beyond the schema: values that are each allowed but cannot combine ----------

IMAGENET_CLASSES = 1000


def _classes(config: dict[str, Any]) -> int:
    """How many classes the configured dataset's models have."""
    if config.get("dataset", "mnist") == "mnist":
        return MNIST_CLASSES
    synthetic = (config.get("imagenet") or {}).get("synthetic")
    return int(synthetic["classes"]) if synthetic else IMAGENET_CLASSES


def _check_types(names: list[str], *, classes: int, where: str) -> None:
    """Adversarial type names (HC-3x1.05, ...) whose hot rank and factor the classes allow."""
    for i, name in enumerate(names):
        family, k, factor = parse_type(name)
        if family in ("hc-d", "hc-s"):
            check_hot_rank(k, classes=classes, where=f"{where}[{i}] ({name})")
        check_factors([factor], allow_shrink=False, where=f"{where}[{i}] ({name})")


def _check_increasing(values: list[float], *, where: str) -> None:
    for i, (low, high) in enumerate(zip(values[:-1], values[1:], strict=True)):
        if not low < high:
            raise InputError(
                f"{where}: must be strictly increasing, but {where}[{i}] = {low} is followed "
                f"by {where}[{i + 1}] = {high}"
            )


def attacked_images(config: Mapping[str, Any], split: str) -> int:
    """How many MNIST images of ``split`` each base net attacks (at most): all, the first
    N (an integer), or a share of them (a fraction below 1, as the draw takes it)."""
    limit = (config.get("attack") or {}).get(f"{split}_images")
    total = MNIST_COUNTS[split]
    if limit is None:
        return total
    if isinstance(limit, float) and limit < 1:
        return round(limit * total)
    return min(int(limit), total)


def _check_supply(config: dict[str, Any]) -> None:
    """Held-out and bucket sizes that the attacked images cannot supply even if every
    attack succeeded: refused here, before any job, unless ``allow_fewer``."""
    heldout = config["heldout"]
    nets = len(config["base"]["seeds"])
    tested = attacked_images(config, "test")
    most = tested * nets  # one image per type per (source, net)
    if heldout["per_type"] > most and not heldout.get("allow_fewer", False):
        raise InputError(
            f"heldout.per_type: {heldout['per_type']} images per type asked, but "
            f"{nets} base net(s) attacking {tested} test images give at most "
            f"{most} of each type; lower it, raise attack.test_images, or set "
            "heldout.allow_fewer: true"
        )
    buckets = config["buckets"]
    if buckets["enabled"] and buckets["per_bucket"] is not None:
        trained = attacked_images(config, "train")
        pool = trained * buckets["k"] * len(set(buckets["factors"]))
        if buckets["per_bucket"] > pool and not buckets.get("allow_fewer", False):
            raise InputError(
                f"buckets.per_bucket: {buckets['per_bucket']} images per bucket asked, but a "
                f"net's pool ({trained} training images x {buckets['k']} hot "
                f"ranks x {len(set(buckets['factors']))} factors) holds at most {pool}; lower "
                "it, raise attack.train_images, or set buckets.allow_fewer: true"
            )


def check_values(config: dict[str, Any]) -> None:
    """Refuse, naming the key, what the schema cannot see: recipes whose method, k, factor
    and tau do not combine, hot ranks the classes do not have, bucket edges that are not
    increasing, held-out and bucket sizes the attacked images cannot supply."""
    results = config.get("results")
    if isinstance(results, str) and os.path.exists(results) and not os.path.isdir(results):
        raise InputError(f"results: {results!r} is a file, not a folder for the outputs")
    classes = _classes(config)
    for i, recipe in enumerate(config["recipes"]):
        where = f"recipes[{i}]: recipe {recipe['name']!r}"
        options = {key: recipe.get(key) for key in ("k", "factor", "tau")}
        check_recipe(recipe["method"], **options, classes=classes, where=where)
        if "frontier_factors" in recipe:
            if recipe.get("factor") != "frontier":
                raise InputError(f"{where}: frontier_factors needs factor: frontier")
            check_factors(
                recipe["frontier_factors"], allow_shrink=False, where=f"{where}, frontier_factors"
            )
    if config.get("dataset", "mnist") != "mnist":
        gallery = config["imagenet"]["gallery_types"]
        _check_types(gallery, classes=classes, where="imagenet.gallery_types")
        return
    buckets = config["buckets"]
    if buckets["enabled"]:
        _check_increasing(buckets["edges"], where="buckets.edges")
        check_hot_rank(buckets["k"], classes=classes, where="buckets.k")
        check_factors(buckets["factors"], allow_shrink=False, where="buckets.factors")
    for split, size in MNIST_COUNTS.items():
        count = config["attack"].get(f"{split}_images")
        if isinstance(count, int) and not isinstance(count, bool) and count > size:
            raise InputError(f"attack.{split}_images: {count}, but MNIST's {split} split holds "
                             f"{size} images")  # fmt: skip
    _check_types(config["heldout"]["types"], classes=classes, where="heldout.types")
    _check_types(config["figures"]["gallery_types"], classes=classes, where="figures.gallery_types")
    _check_supply(config)


def check_no_links(results: str | os.PathLike) -> None:
    """Refuse a symbolic link under the results' benchmark and log folders, naming it: a
    write through it would land outside the results folder."""
    for name in WRITTEN_BY_SNAKEMAKE:
        top = os.path.join(results, name)
        if os.path.islink(top):
            raise ConfigError(f"{top}: a symbolic link; Snakemake would write through it "
                              "outside the results folder: replace it with a folder")  # fmt: skip
        for folder, dirs, files in os.walk(top):
            for entry in (*dirs, *files):
                path = os.path.join(folder, entry)
                if os.path.islink(path):
                    raise ConfigError(f"{path}: a symbolic link; Snakemake would write through "
                                      "it outside the results folder: remove it")  # fmt: skip
