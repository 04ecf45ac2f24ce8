"""hardpos.files.datasets: images with labels, empty sets, files of earlier versions."""

from __future__ import annotations

import numpy as np

from hardpos.files.datasets import load_dataset, save_dataset

from .conftest import _images


def test_compressed_files_of_earlier_versions_are_read_into_memory(tmp_path):
    images, labels = _images(4), np.arange(4)
    np.savez_compressed(tmp_path / "old.npz", images=images, labels=labels)
    got, got_labels = load_dataset(tmp_path / "old.npz")
    assert not isinstance(got, np.memmap)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_dataset_files_hold_labels_and_empty_sets_keep_their_shape(tmp_path):
    save_dataset(tmp_path / "d.npz", _images(5, (28, 28)), np.arange(5) % 3)
    images, labels = load_dataset(tmp_path / "d.npz")
    assert images.shape == (5, 28, 28) and labels.dtype == np.int64
    assert labels.tolist() == [0, 1, 2, 0, 1]
    save_dataset(tmp_path / "e.npz", _images(0, (3, 8, 8)), np.zeros(0))
    assert load_dataset(tmp_path / "e.npz")[0].shape == (0, 3, 8, 8)
