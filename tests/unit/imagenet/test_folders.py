"""hardpos.imagenet.folders: center crops and the class folders of a split."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hardpos.errors import DataError
from hardpos.imagenet.folders import center_crop, load_crops, scan_split

from ..conftest import _tree


def _edge_image(width: int, height: int, x_edge: int, y_edge: int) -> Image.Image:
    """Dark left of column x_edge, bright right; a green band below row y_edge."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, x_edge:, 0] = 255
    pixels[y_edge:, :, 1] = 255
    return Image.fromarray(pixels)


def _crossing(profile: np.ndarray) -> float:
    """Where a rising 0 -> 255 profile crosses 127.5, by linear interpolation."""
    i = int(np.argmax(profile >= 127.5))
    lo, hi = float(profile[i - 1]), float(profile[i])
    return i - 1 + (127.5 - lo) / (hi - lo)


@pytest.mark.parametrize("size", [(500, 375), (375, 500), (640, 256), (300, 1000)])
def test_center_crop_geometry_matches_an_independent_computation(size):
    width, height = size
    x_edge, y_edge = int(width * 0.55), int(height * 0.45)
    crop = center_crop(_edge_image(width, height, x_edge, y_edge))
    assert crop.shape == (3, 224, 224) and crop.dtype == np.uint8
    # shorter side to 256, the other in proportion (rounded down), central 224 square
    scale = 256 / min(width, height)
    new_w, new_h = (256, int(height * scale)) if width <= height else (int(width * scale), 256)
    left, top = round((new_w - 224) / 2), round((new_h - 224) / 2)
    # a pixel edge at column e of the original sits at e * (new / old) in the resized image
    expected_x = x_edge * new_w / width - left - 0.5
    expected_y = y_edge * new_h / height - top - 0.5
    assert abs(_crossing(crop[0, 112].astype(float)) - expected_x) < 0.75
    assert abs(_crossing(crop[1, :, 112].astype(float)) - expected_y) < 0.75


def test_an_image_with_shorter_side_256_is_cropped_without_resampling():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(256, 300, 3), dtype=np.uint8)
    crop = center_crop(Image.fromarray(pixels))
    assert np.array_equal(crop, pixels[16:240, 38:262].transpose(2, 0, 1))


def test_a_crop_larger_than_the_resized_side_is_refused():
    with pytest.raises(DataError, match="crop 300 is larger"):
        center_crop(Image.new("RGB", (400, 400)), resize=256, crop=300)


def test_scan_split_indexes_classes_in_sorted_order(tmp_path):
    index = scan_split(_tree(tmp_path), "train", resize=36, crop=32)
    assert len(index) == 12
    assert index["class_name"].tolist()[::4] == ["n000", "n001", "n002"]
    assert index["label"].tolist()[::4] == [0, 1, 2]
    images, labels = load_crops(index)
    assert images.shape == (12, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == index["label"].tolist()


def test_a_missing_split_names_the_folder(tmp_path):
    with pytest.raises(DataError, match=r"val: no such folder"):
        scan_split(tmp_path, "val")
