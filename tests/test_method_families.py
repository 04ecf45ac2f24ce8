"""The method families are defined once, in hardpos.attacks.methods, and the attack
options once, in hardpos.attacks.options: the recipes, the config schema, the workflow
rule and the command line take theirs from there."""

from __future__ import annotations

import argparse
import inspect
import subprocess
import sys

import yaml
from paths import REPO

from hardpos.attacks import methods, options
from hardpos.experiments import recipes


def test_recipes_use_the_attack_families():
    assert recipes.FAMILIES is methods.FAMILIES
    for family in methods.FAMILIES:
        name = recipes.method_argument(family, 3)
        assert {d.method for d in methods.parse_methods(name)} == {family}


def test_config_schema_enums_are_the_families():
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    props = schema["properties"]
    recipe = props["recipes"]["items"]["properties"]["method"]["enum"]
    assert recipe == [*methods.FAMILIES, "none", *recipes.OBJECTIVES]
    assert props["buckets"]["properties"]["method"]["enum"] == list(methods.RANKED)


def test_the_generate_rule_takes_its_wildcard_from_the_families():
    rule = (REPO / "workflow" / "rules" / "attack.smk").read_text()
    assert "family=one_of(FAMILIES)" in rule
    assert "fgs|fgv" not in rule


def test_generate_and_the_command_line_default_to_the_options_object():
    from hardpos.attacks import generate
    from hardpos.cli import attack_command

    defaults = options.DEFAULTS
    signature = inspect.signature(generate).parameters
    for name, param in signature.items():
        if param.kind is inspect.Parameter.KEYWORD_ONLY:
            assert param.default == getattr(defaults, name), name
    parser = argparse.ArgumentParser()
    attack_command.add_parser(parser.add_subparsers())
    sub = parser._subparsers._group_actions[0].choices["attack"]
    assert sub.get_default("batch_size") == defaults.batch_size
    assert sub.get_default("max_scale") == defaults.max_scale
    assert sub.get_default("methods") == ",".join(defaults.methods)
    search = options.SearchOptions()
    for name in ("start", "max_scale", "min_growth", "max_growth", "overshoot"):
        assert getattr(defaults, name) == getattr(search, name)


def test_methods_and_options_import_without_torch():
    code = (
        "import sys; import hardpos.attacks.methods, hardpos.attacks.options; "
        "print(sorted(m for m in ('torch', 'cv2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)  # fmt: skip
    assert out.stdout.strip() == "[]"
