"""``hardpos attack``: TorchScript files and factories as models, PNG folders and labels,
checksummed weights, its defaults in --help, and user inputs named."""

from __future__ import annotations

import json
import zipfile

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from small_cnn import MEAN, STD, stripes, trained

from hardpos.attacks import (
    COLUMNS,
    generate,
)
from hardpos.cli import main
from hardpos.errors import InputError
from hardpos.files.images import load_images
from hardpos.files.parquet import load_table
from hardpos.mnist.lenet import LeNet

from ..conftest import own_labels

# -- the command line ---------------------------------------------------------------------


def test_cli_writes_images_and_table(tmp_path, capsys):
    from hardpos.cli import main
    from hardpos.files.datasets import save_dataset
    from hardpos.files.images import load_images
    from hardpos.files.parquet import load_table
    from hardpos.mnist.lenet import save_model

    model = LeNet(seed=5).eval()
    images = (np.random.default_rng(1).random((4, 28, 28)) ** 3 * 255).astype(np.uint8)
    save_model(tmp_path / "net.pt", model, {"seed": 5})
    save_dataset(tmp_path / "set.npz", images, own_labels(model, images))
    out = tmp_path / "out"
    args = ["attack", "--model", str(tmp_path / "net.pt"), "--images", str(tmp_path / "set.npz")]
    args += ["--methods", "fgs,hc-d-2", "--factors", "1,1.05", "--limit", "3", "--out", str(out)]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    table, adv = load_table(out / "table.parquet"), load_images(out / "images.npz")
    assert report["rows"] == len(table) == len(adv) == 3 * 3 * 2
    assert adv.shape[1:] == (1, 28, 28) and adv.dtype == np.uint8
    assert list(table.columns) == list(COLUMNS)
    assert {r["method"] for r in report["summary"]} == {"fgs", "hc-d"}
    assert main([*args[:-2], "--methods", "pgd", "--out", str(out)]) == 2
    assert "unknown method 'pgd'" in capsys.readouterr().err


def test_the_attack_command_names_channels_last_images(tmp_path, capsys):
    from hardpos.files.datasets import save_dataset
    from hardpos.mnist.lenet import save_model

    save_model(tmp_path / "net.pt", LeNet(seed=1), {})
    save_dataset(tmp_path / "x.npz", np.zeros((3, 28, 28, 1), np.uint8), np.zeros(3, np.int64))
    images, out = str(tmp_path / "x.npz"), str(tmp_path / "o")
    code = main(["attack", "--model", str(tmp_path / "net.pt"), "--images", images,
                 "--methods", "fgs", "--out", out])  # fmt: skip
    assert code != 0
    err = capsys.readouterr().err
    assert "these look channels-last" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def net():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return trained(steps=60)
    finally:
        torch.set_num_threads(threads)


def assert_same_attack(images: np.ndarray, table: pd.DataFrame, expected) -> None:
    """The command's images and table are ``generate``'s, up to float rounding: the loaded
    model's gradients may differ from the in-memory one's in the last bit (on an AVX-512
    Zen 5 they did: s_min in the 7th digit, one line search one evaluation longer, one
    pixel of 55,296 one grey level apart), so every grey level is within 1 and at most
    0.1% of the pixels differ; the table's labels, methods and outcomes are exact."""
    difference = np.abs(images.astype(np.int16) - expected.images.astype(np.int16))
    assert images.shape == expected.images.shape and difference.max() <= 1
    assert np.mean(difference > 0) <= 1e-3
    close = [c for c in table.columns if c != "evals"]
    pd.testing.assert_frame_equal(table[close], expected.table[close], check_dtype=False,
                                  rtol=1e-5)  # fmt: skip
    assert (table["evals"] - expected.table["evals"]).abs().max() <= 1


def png_folder(path, images: np.ndarray, labels: np.ndarray):
    """Write uint8 RGB ``[N, 3, H, W]`` as PNG files with a labels.csv."""
    path.mkdir()
    rows = []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        name = f"img{i:03d}.png"
        cv2.imwrite(str(path / name), cv2.cvtColor(image.transpose(1, 2, 0), cv2.COLOR_RGB2BGR))
        rows.append({"file": name, "label": int(label)})
    pd.DataFrame(rows).to_csv(path / "labels.csv", index=False)
    return path


def test_torchscript_model_on_a_png_folder_writes_what_generate_returns(tmp_path, net, capsys):
    x, y = stripes(6, seed=11)
    pixels = np.round(x * 255).astype(np.uint8)
    folder = png_folder(tmp_path / "pngs", pixels, y)
    torch.jit.save(torch.jit.script(net), str(tmp_path / "net.ts"))
    out = tmp_path / "out"
    args = ["attack", "--model", str(tmp_path / "net.ts"), "--images", str(folder),
            "--input-range", "0,1", "--methods", "fgs,hc-d-2", "--device", "cpu",
            "--progress", "off", "--csv", str(tmp_path / "table.csv"),
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    expected = generate(net, pixels, y, methods="fgs,hc-d-2", input_range=(0, 1))
    table = load_table(out / "table.parquet")
    assert_same_attack(load_images(out / "images.npz"), table, expected)
    csv = pd.read_csv(tmp_path / "table.csv")
    np.testing.assert_allclose(csv["linf"], table["linf"])
    assert report["sources"] == 6 and report["misclassified"] == expected.summary["misclassified"]


def test_factory_and_weights_with_mean_and_std(tmp_path, net, capsys, monkeypatch):
    """``small_cnn:bare`` (a module on sys.path) builds the net; the weights come from a
    state dict; the normalisation is given on the command line."""
    import small_cnn

    monkeypatch.setattr(small_cnn, "bare", lambda: small_cnn.SmallCNN(normalise=False),
                        raising=False)  # fmt: skip
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    x, y = stripes(5, seed=12)
    np.savez(tmp_path / "set.npz", images=x, labels=y)  # float images in [0, 1]
    out = tmp_path / "out"
    mean, std = ",".join(map(str, MEAN)), ",".join(map(str, STD))
    args = ["attack", "--model", "small_cnn:bare", "--weights", str(tmp_path / "weights.pt"),
            "--images", str(tmp_path / "set.npz"), "--input-range", "0,1", "--mean", mean,
            "--std", std, "--methods", "fgv", "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    expected = generate(net, x, y, methods="fgv", input_range=(0, 1))
    np.testing.assert_array_equal(
        load_images(out / "images.npz"), np.round(expected.images * 255).astype(np.uint8)
    )
    pd.testing.assert_frame_equal(
        load_table(out / "table.parquet"), expected.table, check_dtype=False
    )
    capsys.readouterr()
    bad = [*args[:4], str(tmp_path / "set.npz"), *args[5:-1], str(tmp_path / "out2")]  # the
    # dataset as weights (into a new --out: the first one holds a result now)
    assert main(bad) == 2
    assert "--weights" in capsys.readouterr().err


def test_damaged_weights_are_refused_by_their_checksum(tmp_path, net, capsys, monkeypatch):
    """torch.load reads a state dict whose tensor bytes were damaged without a word; the
    zip's CRC-32 catches it."""
    import small_cnn

    from hardpos.files.checksums import member_data_offset

    monkeypatch.setattr(small_cnn, "bare", lambda: small_cnn.SmallCNN(normalise=False),
                        raising=False)  # fmt: skip
    weights = tmp_path / "weights.pt"
    torch.save(net.state_dict(), weights)
    with zipfile.ZipFile(weights) as archive:
        biggest = max(archive.infolist(), key=lambda info: info.file_size)
    data = bytearray(weights.read_bytes())
    data[member_data_offset(weights, biggest) + biggest.file_size // 2] ^= 0x10
    weights.write_bytes(bytes(data))
    torch.load(weights, map_location="cpu", weights_only=True)  # no complaint from torch
    x, y = stripes(3, seed=12)
    np.savez(tmp_path / "set.npz", images=x, labels=y)
    out = tmp_path / "o"
    args = ["attack", "--model", "small_cnn:bare", "--weights", str(weights), "--images",
            str(tmp_path / "set.npz"), "--input-range", "0,1", "--out", str(out)]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(weights) in err and "checksum mismatch" in err
    assert not out.exists() or not any(out.iterdir())  # --out is checked writable early


def test_unknown_model_file_and_missing_labels_are_user_errors(tmp_path, capsys):
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    (tmp_path / "pngs").mkdir()
    assert main(["attack", "--model", str(tmp_path / "junk.pt"), "--images",
                 str(tmp_path / "pngs"), "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    assert "labels.csv" in capsys.readouterr().err


def test_attack_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["attack", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in ("(default: 4096)", "(default: 255.0)", "(default: fgs,fgv,hc-d-9)",
                    "(default: [0.0, 255.0])", "(default: auto)"):  # fmt: skip
        assert default in text, default


def test_a_labels_csv_that_misses_an_image_names_it(tmp_path):
    """The unlisted image was once left out without a word."""
    from hardpos.cli.user_inputs import load_image_folder

    x, y = stripes(3, seed=4)
    folder = png_folder(tmp_path / "pngs", np.round(x * 255).astype(np.uint8), y)
    table = folder / "labels.csv"
    table.write_text("".join(table.read_text().splitlines(keepends=True)[:3]))  # img002 gone
    with pytest.raises(InputError, match=r"labels.csv lists no label for img002.png in "):
        load_image_folder(folder, None)
