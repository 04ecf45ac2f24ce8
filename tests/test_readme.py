"""The README is true: its code blocks and commands are run or checked.

Every fenced block is extracted. Python blocks: every ``hardpos`` name they use must
import and resolve, and the quick ones run (with the big arrays of earlier, slow blocks
stood in for by a few real MNIST images). Shell blocks: each command's program, make
target, config file, ``--config`` key and command-line option must exist (the slow
commands themselves are not run; ``hardpos <command> --help`` is). Inline ``hardpos.x.y``
names in the prose must resolve too.
"""

from __future__ import annotations

import ast
import importlib
import os
import pickle
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MNIST = ROOT.parent / "shared" / "data" / "mnist"

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(language: str) -> list[str]:
    return [body for lang, body in _FENCE.findall(README.read_text()) if lang == language]


def resolve(dotted: str) -> object:
    """The object a dotted ``hardpos...`` name denotes (module, then attributes)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def hardpos_names(source: str) -> set[str]:
    """Every ``hardpos.x.y`` a block uses: imports and attribute chains on ``hardpos``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hardpos"):
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("hardpos"))
        elif isinstance(node, ast.Attribute):
            chain, inner = [node.attr], node.value
            while isinstance(inner, ast.Attribute):
                chain.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id == "hardpos":
                names.add(".".join(["hardpos", *reversed(chain)]))
    return names


def test_readme_has_the_blocks_this_test_reads():
    assert len(blocks("python")) >= 3 and len(blocks("sh")) >= 5


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_block_names_resolve(index):
    source = blocks("python")[index]
    names = hardpos_names(source)
    assert names, "a Python block that uses no hardpos name"
    for name in sorted(names):
        try:
            resolve(name)
        except (ImportError, AttributeError) as error:
            pytest.fail(f"README Python block {index + 1}: {name} does not exist ({error})")


def test_prose_names_resolve():
    text = _FENCE.sub("", README.read_text())
    for name in sorted(set(re.findall(r"`(hardpos(?:\.\w+)+)", text))):
        try:
            resolve(name)
        except (ImportError, AttributeError) as error:
            pytest.fail(f"README names `{name}`, which does not exist ({error})")


_RUNNER = """
import pickle, sys

blocks = pickle.load(open("../blocks.pickle", "rb"))
namespace = {}
# the first block as written but for its 10K iterations (minutes; 20 here), then the sets
# cut to 40 digits so that the attacks of the next blocks take seconds
exec(compile(blocks[0].replace("iterations=10_000", "iterations=20"), "README.md", "exec"),
     namespace)
for name in ("images", "labels", "test_images", "test_labels"):
    namespace[name] = namespace[name][:40]
for source in blocks[1:]:
    exec(compile(source, "README.md", "exec"), namespace)
print("RESULT", len(namespace["kept"]), len(namespace["table"]),
      type(namespace["adv"]).__name__, namespace["adv"].shape)
"""


def test_python_blocks_run(tmp_path):
    """The Python blocks run in order, in one fresh interpreter, as a user pastes them: the
    first (it trains, loads MNIST and saves the ``net1.pt`` the next block loads) with 20
    iterations for its 10K, the rest as written on 40 of its digits."""
    if not any(MNIST.glob("t10k-images-idx3-ubyte*")):
        pytest.skip("needs the real MNIST in ../shared/data/mnist")
    python = blocks("python")
    assert "iterations=10_000" in python[0] and len(python) >= 3
    (tmp_path / "blocks.pickle").write_bytes(pickle.dumps(python))
    (tmp_path / "run.py").write_text(_RUNNER)
    # the README's MNIST path, from the folder a user runs it in (the repository root's)
    (tmp_path / "work").mkdir()
    (tmp_path / "shared").symlink_to(MNIST.parent.parent)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, "../run.py"],
        cwd=tmp_path / "work", env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "iteration 20: loss" in result.stdout  # the first block's progress lines
    assert "'sources': 16, 'attacked': 16, 'misclassified': 0" in result.stdout
    last = result.stdout.strip().splitlines()[-1].split(" ", 4)
    kept, rows, kind, shape = last[1:]
    assert 0 <= int(kept) <= int(rows) and kind == "memmap" and shape.endswith("1, 28, 28)")


def test_the_table_columns_the_readme_lists_are_the_real_ones():
    from hardpos.attacks import COLUMNS

    row = next(line for line in README.read_text().splitlines() if "attacks.COLUMNS`" in line)
    listed = set(re.findall(r"`(\w+)`", row.split("COLUMNS`:", 1)[1].split(";")[0]))
    assert listed == set(COLUMNS) | {"net"}


def _commands() -> list[list[str]]:
    commands = []
    for body in blocks("sh"):
        logical = re.sub(r"\\\n\s*", " ", body)
        for line in logical.splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                commands.append(shlex.split(line))
    return commands


def _config_keys() -> set[str]:
    return set(yaml.safe_load((ROOT / "config/config.yaml").read_text()))


def _check_args(words: list[str]) -> None:
    for i, word in enumerate(words):
        if word in ("--configfile", "--profile"):
            assert (ROOT / words[i + 1]).exists(), f"README: {words[i + 1]} does not exist"
        if word.startswith("ARGS="):
            _check_args(shlex.split(word.removeprefix("ARGS=")))
    if "--config" in words:
        start = words.index("--config") + 1
        for item in words[start:]:
            if item.startswith("-"):
                break
            key = item.split("=")[0]
            assert key in _config_keys(), f"README: --config {key}=... is not a config key"


def test_shell_commands_exist():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    commands = _commands()
    assert commands
    for words in commands:
        program = words[0]
        if program == "make":
            assert words[1] in targets, f"README: make {words[1]}: no such target"
        elif program in ("hardpos", ".venv/bin/hardpos"):
            # the venv's command, as the README says to reach it
            result = subprocess.run(
                [str(Path(sys.executable).parent / "hardpos"), words[1], "--help"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert result.returncode == 0, f"README: hardpos {words[1]}: {result.stderr}"
            for option in (w for w in words[2:] if w.startswith("--")):
                assert option in result.stdout, f"README: hardpos {words[1]} has no {option}"
        elif program.startswith(".venv/bin/"):
            assert program.removeprefix(".venv/bin/") in ("python", "snakemake"), program
            if program.endswith("python"):
                assert (ROOT / words[1]).exists(), f"README: {words[1]} does not exist"
        else:
            pytest.fail(f"README: a command this test does not know how to check: {words}")
        _check_args(words)


def test_yaml_blocks_name_real_profile_keys():
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    for body in blocks("yaml"):
        kept = [line for line in body.splitlines() if "..." not in line]
        snippet = yaml.safe_load("\n".join(kept))
        for key, value in snippet.items():
            assert key in profile, f"README: profile key {key} is not in profiles/slurm"
            if key == "set-resources":
                assert set(value) <= set(profile[key]), value


def _schema_keys(node: dict, prefix: str = "") -> list[str]:
    keys = []
    for name, sub in node.get("properties", {}).items():
        keys.append(prefix + name)
        if isinstance(sub, dict) and sub.get("type") == "object":
            keys += _schema_keys(sub, f"{prefix}{name}.")
    return keys


def test_config_readme_describes_every_schema_key():
    schema = yaml.safe_load((ROOT / "config/schema.yaml").read_text())
    text = (ROOT / "config/README.md").read_text()
    missing = [
        key
        for key in _schema_keys(schema)
        if f"`{key}`" not in text and f"`{key.rsplit('.', 1)[-1]}`" not in text
    ]
    assert not missing, f"config/README.md does not describe {missing}"
    recipe_keys = schema["properties"]["recipes"]["items"]["properties"]
    assert all(f"`{key}`" in text for key in recipe_keys)
