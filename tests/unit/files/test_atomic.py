"""Atomic writes leave readable, durable files: the umask's mode, fsynced before the rename."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from hardpos.files import atomic
from hardpos.files.atomic import atomic_path, current_umask, write_json
from hardpos.files.images import save_images
from hardpos.files.parquet import save_table


@pytest.fixture
def umask():
    """Run with a given umask, restoring the process's own afterwards."""
    saved = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(saved)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_results_get_the_mode_of_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    write_json(tmp_path / "summary.json", {"a": 1})
    save_table(tmp_path / "table1.parquet", pd.DataFrame({"x": [1]}))
    save_images(tmp_path / "images.npz", __import__("numpy").zeros((1, 1, 2, 2), "uint8"))
    plain = tmp_path / "plain.txt"
    plain.write_text("an ordinary open, for comparison")
    for name in ("summary.json", "table1.parquet", "images.npz", "plain.txt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


def test_current_umask_reads_without_changing_it(umask):
    umask(0o027)
    assert current_umask() == 0o027
    assert os.umask(0o027) == 0o027


def test_the_file_and_its_folder_are_fsynced_around_the_rename(tmp_path, monkeypatch):
    """The order that makes a rename durable: data to disk, rename, then the folder entry."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.path.realpath(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("done")
        temporary = str(tmp)
    assert events == [("fsync", temporary), ("replace", str(target)), ("fsync", str(tmp_path))]


def test_a_failed_body_leaves_no_file_and_no_temporary(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
