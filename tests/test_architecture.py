"""The library's shape: packages by concept, imports pointing one way, a light top level.

A newcomer reads a file's path and knows what it may import: each package sits on a
layer and imports only from layers below it (and from itself). The layers, bottom up, are
the list below; the README's Development section explains each package.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from paths import REPO

SRC = REPO / "src" / "hardpos"

LAYERS = [
    {"errors", "device", "lazy_exports"},
    {"files"},
    {"mnist", "imagenet"},
    {"training", "metrics", "attacks", "similarity"},
    {"robustness"},
    {"experiments"},
    {"report"},
    {"workflow", "cli"},
]
LAYER_OF = {package: level for level, names in enumerate(LAYERS) for package in names}


def package_of(path: Path) -> str:
    """``files`` for src/hardpos/files/images.py, ``errors`` for src/hardpos/errors.py."""
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[0]


def hardpos_imports(path: Path) -> list[tuple[int, str]]:
    """Every ``hardpos.X`` a file imports, at module level or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.split(".")[0] == "hardpos"]
    return found


def library_files() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if p != SRC / "__init__.py"]


def test_every_package_is_on_a_layer():
    packages = {package_of(p) for p in library_files()}
    assert packages <= set(LAYER_OF), f"packages on no layer: {packages - set(LAYER_OF)}"


def test_imports_point_down_the_layers():
    """Fails on an import against the direction, e.g. mnist importing training or
    attacks importing experiments (the old models.py -> imagenet, jobs.py -> stages)."""
    wrong = []
    for path in library_files():
        here = package_of(path)
        for line, module in hardpos_imports(path):
            parts = module.split(".")
            if len(parts) == 1:
                wrong.append(f"{path.relative_to(SRC)}:{line} imports the top-level hardpos")
                continue
            there = parts[1]
            if there != here and LAYER_OF.get(there, -1) >= LAYER_OF[here]:
                wrong.append(f"{path.relative_to(SRC)}:{line} ({here}) imports {module}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_two_modules_share_a_name():
    """``train.py`` four times over was the old shape; a module's name says what it owns."""
    names: dict[str, list[str]] = {}
    for path in library_files():
        if path.name not in ("__init__.py", "__main__.py"):
            names.setdefault(path.stem, []).append(str(path.relative_to(SRC)))
    shared = {name: where for name, where in names.items() if len(where) > 1}
    assert not shared, f"modules sharing a name: {shared}"


@pytest.mark.parametrize("module", ["hardpos", "hardpos.workflow.config", "hardpos.errors"])
def test_importing_the_top_level_loads_neither_torch_nor_opencv(module):
    """The Snakefile imports these while building the DAG; torch costs seconds per start."""
    heavy = "('torch', 'cv2', 'torchvision')"
    code = f"import sys, {module}; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves():
    import hardpos

    for name in hardpos.__all__:
        assert getattr(hardpos, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        hardpos.nothing_here  # noqa: B018


def test_no_public_name_is_also_a_subpackage():
    """A lazy export named like a subpackage is rebound to the subpackage by the import
    system as soon as anything imports it (``hardpos.pass_score`` was once both, and then
    "module is not callable"). So the PASS subpackage is ``hardpos.similarity``."""
    import hardpos

    subpackages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert not set(hardpos.__all__) & subpackages
    code = (
        "import hardpos, hardpos.similarity.ssim; hardpos.filter_by_tau;"
        " import numpy as np; x = np.full((1, 28, 28), 100, np.uint8);"
        " print(hardpos.pass_score(x, x).scores[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) == 1.0


def _folder_names() -> set[str]:
    from hardpos.files import run_folders

    return {v for k, v in vars(run_folders).items() if k.isupper() and isinstance(v, str)}


def test_no_module_spells_a_results_sub_folder_as_a_path_of_its_own():
    """One path scheme (hardpos.files.run_folders, used by workflow.layout.Paths): a module
    that joins ``"eval"`` or writes ``"logs/runs/"`` itself would drift from it."""
    names = _folder_names()
    pattern = re.compile(rf"(^|/)({'|'.join(map(re.escape, names))})/")
    found = []
    for path in library_files():
        if path == SRC / "files" / "run_folders.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                for side in (node.left, node.right):
                    if isinstance(side, ast.Constant) and side.value in names:
                        found.append(f"{path.relative_to(SRC)}:{node.lineno}: / {side.value!r}")
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and "\n" not in node.value
                and pattern.search(node.value)
            ):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value!r}")
    assert not found, "results sub-folders spelled outside run_folders:\n" + "\n".join(found)


# third-party packages heavy enough that a module may import them inside a function, to
# keep its own import (the DAG, ``hardpos --help``) light, or that are optional
HEAVY = {"torch", "torchvision", "cv2", "matplotlib", "adv_lib", "PIL", "scipy", "pandas",
         "skimage", "tqdm"}  # fmt: skip


def _module_file(name: str) -> Path | None:
    base = SRC.parent / name.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _lazy_exports(package: str) -> dict[str, str]:
    """A package's ``_EXPORTS`` (name -> module), read from its source."""
    path = _module_file(package)
    if path is None or path.name != "__init__.py":
        return {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_EXPORTS":
            return ast.literal_eval(node.value)
    return {}


def _loaded_by(node: ast.Import | ast.ImportFrom) -> set[str]:
    """The modules an import statement loads: every package on the dotted path, the
    submodules it names, and the modules behind lazily exported names."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        targets = [node.module or ""]
        for alias in node.names:
            sub = f"{node.module}.{alias.name}"
            if _module_file(sub):
                targets.append(sub)
            elif alias.name in _lazy_exports(node.module or ""):
                targets.append(_lazy_exports(node.module)[alias.name])
    parts = {".".join(t.split(".")[: i + 1]) for t in targets for i in range(t.count(".") + 1)}
    return {p for p in parts if p}


def _closure(modules: set[str], cache: dict[str, set[str]]) -> set[str]:
    """Everything importing ``modules`` loads, by their module-level imports."""
    seen, todo = set(), list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in cache:
            path = _module_file(name) if name.startswith("hardpos") else None
            body = ast.parse(path.read_text()).body if path else []
            cache[name] = set().union(
                *(_loaded_by(n) for n in body if isinstance(n, ast.Import | ast.ImportFrom))
            )
        todo += cache[name]
    return seen


def test_imports_inside_functions_are_there_for_a_reason():
    """An import inside a function must keep its module light (it loads a heavy or optional
    package the module does not load already) or break an import cycle; any other belongs
    at the top, where a reader looks for what a module uses."""
    cache: dict[str, set[str]] = {}
    needless = []
    for path in library_files():
        name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        mine = _closure({name}, cache)
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                theirs = _closure(_loaded_by(node), cache)
                heavier = {m.split(".")[0] for m in theirs - mine} & HEAVY
                if not heavier and name not in theirs:
                    needless.append(f"{path.relative_to(SRC)}:{node.lineno} in {func.name}")
    assert not needless, "imports inside functions that could be at the top:\n" + "\n".join(
        needless
    )


MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80  # docstring included


def test_modules_and_functions_stay_small_enough_to_read_whole():
    """A module a reader holds in mind at once, a function on one screen or two."""
    too_big = []
    for path in library_files():
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            too_big.append(f"{path.relative_to(SRC)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_big.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {lines}")
    assert not too_big, "over the size limits:\n" + "\n".join(too_big)


UNIT = REPO / "tests" / "unit"
UNIT_SUPPORT = {"__init__.py", "conftest.py"}


def test_unit_tests_mirror_the_library():
    """tests/unit/<package>/test_<module>.py tests src/hardpos/<package>/<module>.py, and
    tests/unit/test_<module>.py a top-level module: a unit test file is named after an
    existing module of its package (a module may have none), so a newcomer finds a
    module's tests from its path. Beside them only __init__.py and conftest.py."""
    strays = []
    for path in sorted(UNIT.rglob("*")):
        relative = path.relative_to(UNIT)
        if path.is_dir():
            if path.name != "__pycache__" and not (SRC / relative).is_dir():
                strays.append(f"tests/unit/{relative}/: no package src/hardpos/{relative}")
            continue
        if "__pycache__" in relative.parts or path.name in UNIT_SUPPORT:
            continue
        module = SRC / relative.parent / path.name.removeprefix("test_")
        if not path.name.startswith("test_") or path.suffix != ".py" or not module.is_file():
            strays.append(f"tests/unit/{relative}: no module {module.relative_to(REPO)}")
    assert not strays, "\n".join(strays)
