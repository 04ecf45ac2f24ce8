"""Hand-made evaluation records for the report tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _entry(error: float, n: int = 1000) -> dict:
    """An error entry as the evaluate stage writes it: error = wrong / n exactly."""
    wrong = round(error * n)
    return {"error": wrong / n, "n": n, "wrong": wrong}


def _record(path: Path, recipe: str, net: int, mnist: float, heldout: float, **extra) -> Path:
    record = {
        "recipe": recipe,
        "net": net,
        "parent_net": net,
        "train_images": extra.pop("train_images", 0),
        "mnist_test": _entry(mnist, 10000),
        "heldout": _entry(heldout),
        "heldout_own": _entry(extra.pop("own", heldout - 0.05)),
        "heldout_other": _entry(extra.pop("other", heldout + 0.05)),
        # per-type errors that differ from the overall one and from each other
        "heldout_by_type": {"FGS": _entry(heldout - 0.1), "HC-1": _entry(heldout + 0.1 * net)},
    }
    path.write_text(json.dumps(record))
    return path


@pytest.fixture
def evaluations(tmp_path: Path) -> list[Path]:
    paths = [_record(tmp_path / f"base{n}.json", "basic", n, 0.01 * n, 0.6) for n in (1, 2, 3)]
    paths += [
        _record(tmp_path / f"fgs{n}.json", "FGS", n, 0.008, 0.2 + 0.1 * n, train_images=100 * n)
        for n in (1, 2, 3)
    ]
    paths.append(_record(tmp_path / "aug.json", "InfiMNIST-style (2,000)", 1, 0.05, 0.4))
    return paths


@pytest.fixture
def with_clean(evaluations, tmp_path: Path) -> list[Path]:
    clean = [0.0085, 0.0080, 0.0075]  # FGS's three nets all sit at 0.008: no difference
    return evaluations + [
        _record(tmp_path / f"clean{n}.json", "clean", n, e, 0.5) for n, e in enumerate(clean, 1)
    ]
