"""The hardpos command line: real runs, and one-paragraph errors for a user's mistakes."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

from hardpos.cli import main
from hardpos.mnist.idx import write_idx


def hardpos(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hardpos.cli", *args], capture_output=True, text=True, timeout=300
    )


def _digits(folder, n_train=256, n_test=64):
    """MNIST-shaped files whose label is a bright bar's position, learnable in a few steps."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 30, (n, 28, 28)).astype(np.uint8)
        for i, y in enumerate(labels):
            images[i, 2 + 2 * y : 5 + 2 * y, 4:24] = 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)


def test_train_then_evaluate_prints_json_error(tmp_path):
    _digits(tmp_path)
    out = tmp_path / "model.pt"
    run = hardpos(
        "train",
        "--mnist-dir",
        str(tmp_path),
        "--seed",
        "1",
        "--iterations",
        "60",
        "--out",
        str(out),
    )
    assert run.returncode == 0, run.stderr
    assert out.is_file() and (tmp_path / "model.pt.json").is_file()
    run = hardpos("evaluate", "--mnist-dir", str(tmp_path), "--model", str(out))
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["n"] == 64 and 0.0 <= result["error"] < 0.5


def test_truncated_idx_is_one_paragraph_without_traceback(tmp_path):
    _digits(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-50]))
    run = hardpos(
        "train", "--mnist-dir", str(tmp_path), "--iterations", "1", "--out", str(tmp_path / "m.pt")
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "train-images-idx3-ubyte.gz: truncated" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_missing_model_file_is_reported_by_name(tmp_path):
    _digits(tmp_path)
    run = hardpos("evaluate", "--mnist-dir", str(tmp_path), "--model", str(tmp_path / "nope.pt"))
    assert run.returncode == 2
    assert "nope.pt: model file not found" in run.stderr and "Traceback" not in run.stderr


def test_pass_takes_a_data_range_for_float_images_and_reports_grey_levels(tmp_path, capsys):
    """Its own error recommends --data-range for float images: it now exists."""
    rng = np.random.default_rng(0)
    orig = rng.integers(0, 256, (28, 28)).astype(np.uint8)
    adv = np.clip(orig.astype(int) + rng.integers(-8, 9, (28, 28)), 0, 255).astype(np.uint8)
    for name, image in (("o", orig), ("a", adv)):
        np.save(tmp_path / f"{name}.npy", image)
        np.save(tmp_path / f"{name}f.npy", image.astype(np.float64) / 255.0)
    assert main(["pass", str(tmp_path / "o.npy"), str(tmp_path / "a.npy")]) == 0
    grey = json.loads(capsys.readouterr().out)
    floats = [str(tmp_path / "of.npy"), str(tmp_path / "af.npy"), "--data-range", "1.0"]
    assert main(["pass", *floats]) == 0
    unit = json.loads(capsys.readouterr().out)
    for key in ("pass", "ssim", "l2_per_pixel", "linf"):
        assert unit[key] == pytest.approx(grey[key], abs=1e-6), key
    assert grey["linf"] == float(np.abs(adv.astype(int) - orig).max())  # grey levels


def test_every_option_has_help_and_says_its_default_once():
    import argparse
    import importlib

    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    for name in ("attack", "pass", "train", "evaluate", "tables"):
        importlib.import_module(f"hardpos.cli.{name}_command").add_parser(subparsers)
    for command, sub in subparsers.choices.items():
        for action in sub._actions:
            if action.option_strings and "-h" not in action.option_strings:
                assert action.help, f"hardpos {command} {action.option_strings[0]}: no help"
                # the formatter adds "(default: X)" for a set default: the help must not too
                said = "(default" in action.help and action.default not in (None, False)
                assert not said, f"hardpos {command} {action.option_strings[0]}: default twice"
