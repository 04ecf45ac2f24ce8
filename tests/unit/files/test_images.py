"""hardpos.files.images: image files written a chunk at a time, memory-mapped back, and
read across files."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest

from hardpos.errors import DataError, InputError
from hardpos.files.datasets import load_dataset, save_dataset
from hardpos.files.images import ImageStack, copy_images, image_writer, load_images, save_images

from .conftest import _images


def test_chunks_make_a_standard_npz_with_an_uncompressed_member(tmp_path):
    images = _images(10)
    with image_writer(tmp_path / "x.npz", (3, 5, 4)) as out:
        for part in (images[:3], images[3:3], images[3:]):
            out.append(part)
    with np.load(tmp_path / "x.npz") as archive:
        np.testing.assert_array_equal(archive["images"], images)
    with zipfile.ZipFile(tmp_path / "x.npz") as archive:
        assert archive.testzip() is None  # CRC checked
        assert [i.compress_type for i in archive.infolist()] == [zipfile.ZIP_STORED]


def test_a_known_count_writes_the_same_bytes_without_a_temporary_copy(tmp_path):
    images = _images(7)
    with image_writer(tmp_path / "unknown.npz", images.shape[1:]) as out:
        out.append(images[:4])
        out.append(images[4:])
    with image_writer(tmp_path / "known.npz", images.shape[1:], count=7) as out:
        out.append(images[:4])
        out.append(images[4:])
    assert (tmp_path / "known.npz").read_bytes() == (tmp_path / "unknown.npz").read_bytes()


def test_stored_images_are_memory_mapped_read_only(tmp_path):
    images = _images(6)
    save_images(tmp_path / "x.npz", images)
    mapped = load_images(tmp_path / "x.npz")
    assert isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(mapped, images)
    with pytest.raises(ValueError, match="read-only"):
        mapped[0] = 0
    assert load_images(tmp_path / "x.npz", mmap=False).flags.writeable


def test_a_failed_write_leaves_neither_the_file_nor_temporaries(tmp_path):
    with pytest.raises(RuntimeError), image_writer(tmp_path / "x.npz", (3, 5, 4)) as out:
        out.append(_images(2))
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("chunk", "message"),
    [
        (_images(2, (3, 5, 5)), r"uint8 \[n, 3, 5, 4\]"),
        (_images(2).astype(np.float32), r"uint8 \[n, 3, 5, 4\]"),
        (_images(4), r"more than the 3 images announced"),
    ],
)
def test_chunks_of_another_shape_type_or_count_are_refused(tmp_path, chunk, message):
    refused = pytest.raises(InputError, match=message)
    with refused, image_writer(tmp_path / "x.npz", (3, 5, 4), count=3) as out:
        out.append(chunk)
    assert not (tmp_path / "x.npz").exists()


def test_fewer_images_than_announced_names_the_file(tmp_path):
    refused = pytest.raises(InputError, match=r"x.npz: 2 images written, 3 announced")
    with refused, image_writer(tmp_path / "x.npz", (3, 5, 4), count=3) as out:
        out.append(_images(2))


def test_missing_and_foreign_files_are_data_errors_naming_them(tmp_path):
    with pytest.raises(DataError, match=r"nothing.npz: no such file"):
        load_images(tmp_path / "nothing.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(DataError, match=r"text.npz: not an array archive"):
        load_images(tmp_path / "text.npz")
    np.savez(tmp_path / "other.npz", pixels=_images(1))
    with pytest.raises(DataError, match=r"other.npz: not an array archive"):
        load_dataset(tmp_path / "other.npz")


def test_a_stack_indexes_its_files_like_their_concatenation(tmp_path):
    a, b = _images(4, (1, 5, 4), seed=1), _images(6, (5, 4), seed=2)
    save_images(tmp_path / "a.npz", a)
    save_dataset(tmp_path / "b.npz", b, np.zeros(6))
    save_images(tmp_path / "none.npz", _images(0, (7,)))
    stack = ImageStack([tmp_path / "a.npz", tmp_path / "none.npz", tmp_path / "b.npz"])
    whole = np.concatenate([a, b[:, None]])
    assert stack.shape == (10, 1, 5, 4) and len(stack) == 10
    assert stack.sizes.tolist() == [4, 0, 6]
    np.testing.assert_array_equal(stack[7], whole[7])
    np.testing.assert_array_equal(stack[-1], whole[-1])
    rows = np.array([9, 0, 4, 3, 4])
    np.testing.assert_array_equal(stack[rows], whole[rows])
    np.testing.assert_array_equal(stack[2:8], whole[2:8])
    with pytest.raises(IndexError):
        stack[10]


def test_a_pickled_stack_carries_paths_not_pixels(tmp_path):
    save_images(tmp_path / "a.npz", _images(200, (3, 32, 32)))
    stack = ImageStack([tmp_path / "a.npz"])
    blob = pickle.dumps(stack)
    assert len(blob) < 2000
    np.testing.assert_array_equal(pickle.loads(blob)[150], stack[150])


def test_files_of_another_image_size_cannot_be_stacked(tmp_path):
    save_images(tmp_path / "a.npz", _images(2, (3, 5, 4)))
    save_images(tmp_path / "b.npz", _images(2, (3, 5, 5)))
    with pytest.raises(DataError, match=r"b.npz: images of shape \(3, 5, 5\)"):
        ImageStack([tmp_path / "a.npz", tmp_path / "b.npz"])


def test_copy_images_gathers_rows_in_chunks(tmp_path):
    images = _images(9, (1, 5, 4))
    save_images(tmp_path / "a.npz", images)
    rows, labels = np.array([8, 1, 1, 5]), np.array([3, 1, 1, 2])
    copy_images(tmp_path / "c.npz", load_images(tmp_path / "a.npz"), rows, labels,
                shape=(5, 4), chunk_bytes=25)  # fmt: skip
    got, got_labels = load_dataset(tmp_path / "c.npz")
    np.testing.assert_array_equal(got, images[rows, 0])
    np.testing.assert_array_equal(got_labels, labels)
