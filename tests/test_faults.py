"""Fault injection: a damaged, truncated or missing intermediate file ends in a clear
error naming it, never in a result computed from wrong data.

Each kind of file the workflow writes between stages is made small here, damaged the way
disks and copies damage files (one flipped bit anywhere, a cut tail, a deleted file), and
read back through the library's reader.
"""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch

from hardpos.errors import DataError, HardposError
from hardpos.files import checksums
from hardpos.files.datasets import load_dataset, save_dataset
from hardpos.files.images import ImageStack, image_writer, load_images, save_images
from hardpos.files.parquet import load_table, save_table
from hardpos.mnist.idx import read_idx, write_idx
from hardpos.mnist.lenet import LeNet, load_lenet, save_model
from hardpos.training.checkpoints import TrainState, load_checkpoint, save_checkpoint
from hardpos.training.stacked import (
    StackedState,
    load_stacked_checkpoint,
    save_stacked_checkpoint,
)

RNG = np.random.default_rng(13)
IMAGES = RNG.integers(0, 256, (40, 1, 28, 28), dtype=np.uint8)
LABELS = RNG.integers(0, 10, 40)
TABLE = pd.DataFrame(  # enough rows that the data pages outweigh the footer
    {
        "source": np.arange(400),
        "method": RNG.choice(["fgs", "hc-d"], 400),
        "pass": RNG.random(400),
        "success": RNG.random(400) > 0.3,
    }
)


def _write_images(path):
    save_images(path, IMAGES)


def _write_streamed(path):  # the count unknown in advance: the generate stage's way
    with image_writer(path, IMAGES.shape[1:]) as out:
        out.append(IMAGES[:25])
        out.append(IMAGES[25:])


def _write_dataset(path):
    save_dataset(path, IMAGES[:, 0], LABELS)


def _write_table(path):
    save_table(path, TABLE)


def _write_model(path):
    save_model(path, LeNet(seed=3), {"seed": 3})


def _write_checkpoint(path):
    model = LeNet(seed=4)
    momentum = [torch.zeros_like(p) for p in model.parameters()]
    save_checkpoint(path, TrainState(model, momentum, 7), {})


def _write_stacked_checkpoint(path):
    states = [TrainState(LeNet(seed=s), [torch.zeros(1)], 7) for s in (4, 5)]
    params = {
        name: torch.stack([dict(st.model.named_parameters())[name].detach() for st in states])
        for name, _ in states[0].model.named_parameters()
    }
    momentum = {name: torch.zeros_like(value) for name, value in params.items()}
    save_stacked_checkpoint(path, StackedState(params, momentum, 7, 1 / 255), {"seeds": [4, 5]})


def _read_stacked_checkpoint(path):
    state, _ = load_stacked_checkpoint(path, torch.device("cpu"))
    return {**state.params, "iteration": torch.tensor(state.iteration)}


def _read_images(path):
    return np.array(load_images(path))


def _read_images_in_memory(path):
    return load_images(path, mmap=False)


def _read_stack(path):
    return ImageStack([path])[np.arange(40)]


def _read_dataset(path):
    images, labels = load_dataset(path)
    return np.array(images), labels


def _read_model(path):
    return load_lenet(path).state_dict()


def _read_checkpoint(path):
    state, _ = load_checkpoint(path, torch.device("cpu"))
    return {**state.model.state_dict(), "iteration": torch.tensor(state.iteration)}


# (file name, writer, reader): every reader a stage uses on that kind of file
KINDS = {
    "images-mmap": ("images.npz", _write_images, _read_images),
    "images-read": ("images.npz", _write_images, _read_images_in_memory),
    "images-streamed": ("images.npz", _write_streamed, _read_images),
    "image-stack": ("images.npz", _write_images, _read_stack),
    "dataset": ("set.npz", _write_dataset, _read_dataset),
    "table": ("table.parquet", _write_table, load_table),
    "model": ("model.pt", _write_model, _read_model),
    "checkpoint": ("checkpoint.pt", _write_checkpoint, _read_checkpoint),
    "stacked-checkpoint": ("stacked.pt", _write_stacked_checkpoint, _read_stacked_checkpoint),
}


def _flip(path, position: int, bit: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[position] ^= 1 << bit
    path.write_bytes(bytes(raw))


def _positions(size: int, count: int) -> list[int]:
    """Byte positions spread over the whole file, both ends included."""
    return sorted({0, size - 1, *np.linspace(0, size - 1, count).astype(int).tolist()})


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_flipped_bit_anywhere_is_refused_naming_the_file(tmp_path, kind):
    """One flipped bit at 60 places spread over the file, header, data and directory:
    every read either raises a DataError naming the file, or (a bit the format does not
    use, such as a zip comment length's high byte) returns exactly what was written."""
    name, write, read = KINDS[kind]
    clean = tmp_path / name
    write(clean)
    expected = read(clean)
    raw = clean.read_bytes()
    for position in _positions(len(raw), 60):
        damaged = tmp_path / f"flip-{position}-{name}"
        damaged.write_bytes(raw)
        _flip(damaged, position, position % 8)
        try:
            got = read(damaged)
        except HardposError as exc:
            assert str(damaged) in str(exc)
            continue
        _assert_same(got, expected, f"{kind}: bit {position % 8} of byte {position} flipped")


def _assert_same(got, expected, what: str) -> None:
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected, obj=what)
    elif isinstance(expected, tuple):
        for g, e in zip(got, expected, strict=True):
            _assert_same(g, e, what)
    elif isinstance(expected, dict):
        assert got.keys() == expected.keys(), what
        for key in expected:
            assert torch.equal(got[key], expected[key]), what
    else:
        assert np.array_equal(got, expected), what


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_flipped_pixels_say_corrupt_checksum_mismatch(tmp_path, kind):
    """The issue's case: bytes flipped inside the data, the size unchanged."""
    name, write, read = KINDS[kind]
    path = tmp_path / name
    write(path)
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 3
    raw[middle : middle + 200] = bytes(b ^ 0xFF for b in raw[middle : middle + 200])
    path.write_bytes(bytes(raw))
    with pytest.raises(HardposError, match="corrupt: checksum mismatch") as caught:
        read(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_a_truncated_file_is_refused_naming_the_file(tmp_path, kind, keep):
    name, write, read = KINDS[kind]
    path = tmp_path / name
    write(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(HardposError) as caught:
        read(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_deleted_file_is_refused_naming_the_file(tmp_path, kind):
    name, _, read = KINDS[kind]
    path = tmp_path / name
    with pytest.raises(HardposError, match="no such|not found") as caught:
        read(path)
    assert str(path) in str(caught.value)


def test_a_checked_file_that_changes_is_checked_again(tmp_path):
    """The once-per-process check is keyed by the file's signature, so a file damaged after
    a first read (same path, new contents) is read afresh and refused."""
    path = tmp_path / "images.npz"
    save_images(path, IMAGES)
    load_images(path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="corrupt: checksum mismatch"):
        load_images(path)


def test_a_table_without_a_digest_is_read_unchecked(tmp_path):
    """Tables written before the digest (or by other tools) still read: the check is for
    what save_table wrote, not a new format requirement."""
    path = tmp_path / "old.parquet"
    TABLE.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(load_table(path), pd.read_parquet(path))


def test_a_pickled_stack_carries_its_checks_but_not_past_a_change(tmp_path):
    """DataLoader workers get an ImageStack by pickle: they trust the parent's CRC check of
    an unchanged file (no second full read) but check a file changed since."""
    path = tmp_path / "images.npz"
    save_images(path, IMAGES)
    blob = pickle.dumps(ImageStack([path]))
    checksums._VERIFIED.clear()  # as in a fresh worker process
    pickle.loads(blob)
    assert checksums.verified(path), "the parent's check was not carried over"
    checksums._VERIFIED.clear()
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    worker = pickle.loads(blob)
    with pytest.raises(DataError, match="corrupt: checksum mismatch"):
        worker[0]


def test_a_corrupt_gzip_idx_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(path, IMAGES[:6, 0])
    raw = bytearray(path.read_bytes())
    raw[30:60] = bytes(b ^ 0x5A for b in raw[30:60])
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="corrupt") as caught:
        read_idx(path, ndim=3)
    assert str(path) in str(caught.value)


def test_a_flipped_bit_in_a_gzip_idx_never_reads_as_other_pixels(tmp_path):
    """gzip's CRC-32 covers the decompressed bytes: every flip is an error or harmless."""
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    write_idx(path, IMAGES[:6, 0])
    raw = path.read_bytes()
    for position in range(len(raw)):
        damaged = tmp_path / f"flip-{position}.gz"
        damaged.write_bytes(raw)
        _flip(damaged, position, 3)
        try:
            got = read_idx(damaged, ndim=3)
        except HardposError as exc:
            assert str(damaged) in str(exc)
            continue
        assert np.array_equal(got, IMAGES[:6, 0]), f"byte {position} flipped"


# ---- a SIGKILL during a long stage, then the same command again ---------------------------


def _hardpos(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hardpos.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_when(process: subprocess.Popen, ready, timeout: float = 240.0) -> bool:
    """SIGKILL ``process`` as soon as ``ready()`` holds; False if it finished first."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if ready():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    process.wait()
    return False


def _finish(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hardpos.cli", *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_attack_killed_while_writing_then_rerun_gives_the_uninterrupted_files(tmp_path):
    """The generate stage's command, SIGKILLed once its image file is being written: the
    finished names never appear half-written, and the same command again writes files
    byte-identical to a run never interrupted."""
    rng = np.random.default_rng(5)
    images = tmp_path / "set.npz"
    save_dataset(images, rng.integers(0, 256, (200, 28, 28), np.uint8), rng.integers(0, 10, 200))
    model = tmp_path / "model.pt"
    save_model(model, LeNet(seed=2), {"seed": 2})
    args = f"attack --model {model} --images {images} --methods fgs,hc-d-2 --batch-size 64"
    args = [*args.split(), "--threads", "1"]
    _finish(*args, "--out", str(tmp_path / "clean"))
    out = tmp_path / "killed"
    process = _hardpos(*args, "--out", str(out))
    killed = _kill_when(process, lambda: any(out.glob(".images.npz.*.tmp")))
    assert killed, "the attack finished before it could be killed"
    assert not (out / "images.npz").exists() and not (out / "table.parquet").exists()
    _finish(*args, "--out", str(out))
    for name in ("images.npz", "table.parquet"):
        assert (out / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name


@pytest.mark.slow
def test_training_killed_after_a_checkpoint_resumes_to_the_same_weights(tmp_path):
    """The fine-tuning stage's way of training, SIGKILLed once a checkpoint exists: the
    same command resumes from it and ends with the weights of an uninterrupted run."""
    rng = np.random.default_rng(6)
    for prefix, n in (("train", 256), ("t10k", 32)):
        labels = rng.integers(0, 10, n)
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
    args = f"train --mnist-dir {tmp_path} --seed 1 --iterations 150 --checkpoint-every 25"
    args = [*args.split(), "--threads", "1"]
    _finish(*args, "--out", str(tmp_path / "clean.pt"))
    checkpoint = tmp_path / "killed.pt.ckpt"
    process = _hardpos(*args, "--out", str(tmp_path / "killed.pt"))
    killed = _kill_when(process, checkpoint.exists)
    assert killed, "the training finished before it could be killed"
    assert not (tmp_path / "killed.pt").exists()
    _finish(*args, "--out", str(tmp_path / "killed.pt"))
    clean = torch.load(tmp_path / "clean.pt", weights_only=True)
    resumed = torch.load(tmp_path / "killed.pt", weights_only=True)
    assert clean.keys() == resumed.keys()
    for key in clean:
        assert torch.equal(clean[key], resumed[key]), key
