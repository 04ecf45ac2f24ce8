"""``hardpos pass``: JSON for two image files, an unreadable file named."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from hardpos.mnist.idx import load_mnist
from hardpos.similarity import linf


@pytest.fixture(scope="module")
def digits(real_mnist) -> np.ndarray:
    """200 real MNIST test digits, uint8 [200, 28, 28]."""
    return load_mnist(real_mnist, "test")[0][:200]


def _shift(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``image`` moved by whole pixels, the uncovered border black."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, matrix, image.shape[::-1], borderValue=0)


# --- the command line -------------------------------------------------------------------


def test_cli_pass_prints_json_for_two_pngs(digits, tmp_path, capsys):
    from hardpos.cli import main

    cv2.imwrite(str(tmp_path / "orig.png"), digits[0])
    cv2.imwrite(str(tmp_path / "adv.png"), _shift(digits[0], 1, 0))
    assert main(["pass", str(tmp_path / "orig.png"), str(tmp_path / "adv.png")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pass"] > 0.97 and report["ssim"] < report["pass"]
    assert report["ecc_converged"] is True
    assert report["linf"] == linf(_shift(digits[0], 1, 0), digits[0])
    assert set(report) >= {"pass", "ssim", "l2_per_pixel", "linf", "ecc_converged"}


def test_cli_pass_reports_an_unreadable_file_by_name(tmp_path, capsys):
    from hardpos.cli import main

    (tmp_path / "bad.png").write_bytes(b"not a png")
    np.save(tmp_path / "ok.npy", np.zeros((28, 28), np.uint8))
    assert main(["pass", str(tmp_path / "ok.npy"), str(tmp_path / "bad.png")]) == 2
    assert "bad.png" in capsys.readouterr().err
    assert main(["pass", str(tmp_path / "ok.npy"), str(tmp_path / "missing.png")]) == 2
    assert "missing.png" in capsys.readouterr().err
