"""hardpos.mnist.idx: real files load with the published checksums, bad files name
themselves."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest

from hardpos.errors import DataError
from hardpos.mnist.idx import load_mnist, read_idx, write_idx

# sha256 of the uncompressed files, from ../shared/data/mnist/README.md
SHA256 = {
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def test_real_mnist_loads_with_shapes_types_and_checksums(real_mnist):
    images, labels = load_mnist(real_mnist, "test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.int64
    assert set(np.unique(labels)) == set(range(10))
    for name, digest in SHA256.items():
        raw = gzip.decompress((real_mnist / name).read_bytes())
        assert hashlib.sha256(raw).hexdigest() == digest
    header = 16
    raw = gzip.decompress((real_mnist / "t10k-images-idx3-ubyte.gz").read_bytes())
    np.testing.assert_array_equal(images.reshape(-1), np.frombuffer(raw[header:], np.uint8))


def test_real_mnist_train_split_has_60000_images(real_mnist):
    images, labels = load_mnist(real_mnist, "train")
    assert images.shape == (60000, 28, 28) and labels.shape == (60000,)


def test_raw_and_gzip_idx_read_alike(tmp_path):
    data = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", data, compress=True)
    write_idx(tmp_path / "a", data, compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz", ndim=3), data)
    np.testing.assert_array_equal(read_idx(tmp_path / "a", ndim=3), data)


def test_truncated_idx_names_the_file(tiny_mnist):
    path = tiny_mnist / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: truncated"):
        load_mnist(tiny_mnist, "test")


def test_truncated_gzip_stream_names_the_file(tiny_mnist):
    path = tiny_mnist / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: corrupt or truncated gzip"):
        load_mnist(tiny_mnist, "test")


def test_wrong_magic_number_is_reported(tiny_mnist):
    path = tiny_mnist / "train-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[3] = 0x03
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match="bad IDX magic number 0x00000803, expected 0x00000801"):
        load_mnist(tiny_mnist, "train")


def test_label_out_of_range_is_reported(tiny_mnist):
    write_idx(tiny_mnist / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 2, 3, 4, 12]))
    with pytest.raises(DataError, match="label 12 outside 0..9"):
        load_mnist(tiny_mnist, "test")


def test_count_mismatch_between_images_and_labels(tiny_mnist):
    write_idx(tiny_mnist / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 2]))
    with pytest.raises(DataError, match="has 6 images but .* has 3 labels"):
        load_mnist(tiny_mnist, "test")


def test_wrong_image_size_is_reported(tiny_mnist):
    write_idx(tiny_mnist / "t10k-images-idx3-ubyte.gz", np.zeros((6, 32, 32)))
    with pytest.raises(DataError, match="expected 28x28"):
        load_mnist(tiny_mnist, "test")


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(DataError, match=f"not found in {tmp_path}.*pass download=True"):
        load_mnist(tmp_path, "train")


def test_unknown_split_is_rejected(tiny_mnist):
    with pytest.raises(DataError, match="unknown MNIST split 'val'"):
        load_mnist(tiny_mnist, "val")
