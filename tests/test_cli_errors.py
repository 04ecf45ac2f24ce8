"""The command line's refusals: one paragraph naming the option or file, exit status 2,
no traceback (issue 13). Run in-process (``main([...])``) so each takes well under a second."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from hardpos.cli import main
from hardpos.files.datasets import save_dataset
from hardpos.files.sidecars import sidecar_path
from hardpos.mnist.idx import write_idx
from hardpos.mnist.lenet import LeNet, save_model


def _refused(capsys, *argv: str) -> str:
    """Run ``hardpos argv``; it must exit 2 without a traceback. Returns stderr."""
    try:
        code = main(list(argv))
    except SystemExit as stop:  # argparse's usage errors
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.pt"
    save_model(path, LeNet(seed=1), {"seed": 1})
    return path


@pytest.fixture
def images(tmp_path):
    path = tmp_path / "set.npz"
    rng = np.random.default_rng(0)
    save_dataset(path, rng.integers(0, 256, (4, 28, 28), dtype=np.uint8), np.arange(4))
    return path


@pytest.fixture
def mnist(tmp_path):
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (4, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(4))
    return tmp_path


def test_attack_out_naming_an_existing_file_is_refused(capsys, tmp_path, model, images):
    out = tmp_path / "taken"
    out.write_text("not a folder")
    err = _refused(
        capsys, "attack", "--model", str(model), "--images", str(images), "--out", str(out)
    )
    assert f"--out {out}: exists and is not a folder" in err
    assert out.read_text() == "not a folder"


def test_attack_out_where_nothing_can_be_written_is_refused(capsys, model, images):
    """/proc takes no new files, even for root (who passes a folder's permission bits)."""
    err = _refused(
        capsys, "attack", "--model", str(model), "--images", str(images), "--out", "/proc"
    )
    assert "--out /proc: cannot write there" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_attack_out_in_a_read_only_folder_is_refused(capsys, tmp_path, model, images):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o555)
    err = _refused(
        capsys,
        "attack",
        "--model",
        str(model),
        "--images",
        str(images),
        "--out",
        str(folder / "run"),
    )
    assert f"--out {folder / 'run'}: cannot write there (Permission denied)" in err


def test_attack_factors_below_one_are_refused_as_the_workflow_does(capsys, tmp_path, model, images):
    err = _refused(
        capsys,
        "attack",
        "--model",
        str(model),
        "--images",
        str(images),
        "--factors",
        "1.0,0.5",
        "--out",
        str(tmp_path / "o"),
    )
    assert "--factors: factor 0.5 is below 1" in err and "--allow-shrink" in err


def test_attack_allow_shrink_accepts_factors_below_one(capsys, tmp_path, model, images):
    code = main(
        [
            "attack",
            "--model",
            str(model),
            "--images",
            str(images),
            "--methods",
            "fgs",
            "--factors",
            "1.0,0.5",
            "--allow-shrink",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "o" / "images.npz").is_file()


def test_attack_hot_rank_beyond_the_classes_is_refused(capsys, tmp_path, model, images):
    err = _refused(
        capsys,
        "attack",
        "--model",
        str(model),
        "--images",
        str(images),
        "--methods",
        "fgs,hc-d-10",
        "--out",
        str(tmp_path / "o"),
    )
    assert "--methods (HC-D-10): hot rank 10 is not possible with 10 classes" in err


def test_attack_unknown_method_names_the_option(capsys, tmp_path, model, images):
    err = _refused(
        capsys,
        "attack",
        "--model",
        str(model),
        "--images",
        str(images),
        "--methods",
        "pgd",
        "--out",
        str(tmp_path / "o"),
    )
    assert "--methods: unknown method 'pgd'" in err


@pytest.mark.parametrize("command", ["evaluate", "train", "attack"])
def test_a_device_torch_does_not_know_is_a_usage_error(capsys, tmp_path, command, model, mnist):
    err = _refused(
        capsys,
        command,
        "--mnist-dir",
        str(mnist),
        "--model",
        str(model),
        "--out",
        str(tmp_path / "o"),
        "--device",
        "tpu",
    )
    assert "argument --device: 'tpu' is not a device hardpos runs on" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_usage_error(capsys, model, mnist):
    err = _refused(
        capsys, "evaluate", "--mnist-dir", str(mnist), "--model", str(model), "--device", "cuda"
    )
    assert "argument --device: 'cuda': no CUDA GPU is visible on this machine" in err


def test_a_corrupt_sidecar_names_the_sidecar(capsys, model, mnist):
    side = sidecar_path(model)
    side.write_text(side.read_text()[:-5])  # cut: no closing brace
    err = _refused(
        capsys, "evaluate", "--mnist-dir", str(mnist), "--model", str(model), "--device", "cpu"
    )
    assert f"{side}: not a readable JSON sidecar" in err


def test_a_corrupt_gzip_idx_names_the_file(capsys, model, mnist):
    path = mnist / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[20:40] = bytes(b ^ 0xA5 for b in raw[20:40])
    path.write_bytes(bytes(raw))
    err = _refused(
        capsys, "evaluate", "--mnist-dir", str(mnist), "--model", str(model), "--device", "cpu"
    )
    assert f"{path}: corrupt or truncated gzip stream" in err


def test_a_corrupt_image_file_names_the_file(capsys, tmp_path, model, images):
    raw = bytearray(images.read_bytes())
    raw[300:340] = bytes(b ^ 0xFF for b in raw[300:340])
    images.write_bytes(bytes(raw))
    err = _refused(
        capsys,
        "attack",
        "--model",
        str(model),
        "--images",
        str(images),
        "--out",
        str(tmp_path / "o"),
    )
    assert f"{images}: corrupt: checksum mismatch" in err


def test_attack_out_holding_an_earlier_result_is_refused_without_overwrite(
    capsys, tmp_path, model, images
):
    out = tmp_path / "earlier"
    argv = ["attack", "--model", str(model), "--images", str(images), "--methods", "fgs",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    before = (out / "table.parquet").read_bytes()
    capsys.readouterr()
    err = _refused(capsys, *argv)
    assert f"--out {out} holds an earlier result (images.npz, table.parquet)" in err
    assert (out / "table.parquet").read_bytes() == before
    assert main([*argv, "--overwrite"]) == 0


def test_train_says_what_it_did_and_points_from_a_model_to_its_training_state(
    capsys, tmp_path, mnist
):
    out = tmp_path / "net.pt"
    argv = ["train", "--mnist-dir", str(mnist), "--iterations", "3", "--checkpoint-every", "3"]
    assert main([*argv, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "trained from seed 0 to iteration 3; MNIST test error" in said
    assert f"model: {out}, training state: {out}.ckpt" in said
    assert main([*argv, "--out", str(out)]) == 0
    assert f"resuming from the checkpoint {out}.ckpt" in capsys.readouterr().out
    err = _refused(capsys, *argv, "--iterations", "6", "--init", str(out),
                   "--out", str(tmp_path / "ft.pt"))  # fmt: skip
    assert f"--init {out} holds a model's weights, not a training state" in err
    assert f"--init {out}.ckpt" in err


@pytest.mark.parametrize("command", ["train", "evaluate", "attack"])
def test_missing_mnist_names_the_commands_download_option(capsys, tmp_path, command, model):
    """The message once said "set download: true", the workflow's config key."""
    argv = {
        "train": ["--out", str(tmp_path / "net.pt")],
        "evaluate": ["--model", str(model)],
        "attack": ["--model", str(model), "--out", str(tmp_path / "out")],
    }[command]
    empty = tmp_path / "no-mnist"
    err = _refused(capsys, command, "--mnist-dir", str(empty), *argv, "--device", "cpu")
    assert f"not found in {empty}" in err and "or add --download to fetch them" in err
    assert "download: true" not in err
