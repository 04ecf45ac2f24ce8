"""Peak host memory of the image stages on ImageNet-sized crops, against the image set's size.

Runs generate, score_pass, trainset and a pass over the fine-tuning set's added images on
synthetic 3 x 224 x 224 crops attacked (HC-D-k) through a linear classifier (fast, so the
memory of the stages, not of a network, is measured), on the CPU. For each stage:
``traced`` is tracemalloc's peak (every numpy array and Python object; not torch's CPU
tensors, not the pages of memory-mapped files) and ``anon`` the peak growth of the
process's anonymous resident memory (RssAnon, sampled every millisecond: numpy and torch
alike, still not the file pages, which the kernel can drop). ``in memory`` is the
previous way: generate() returning every image, then one compressed save. Each stage
runs in a fresh process.

    .venv/bin/python benchmarks/memory.py --sources 200 --attack-batch 128 --pass-batch 256
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

import hardpos.experiments.adversarials
from hardpos.attacks import generate
from hardpos.experiments.adversarials import generate_adversarials, score_pass
from hardpos.experiments.recipes import Recipe
from hardpos.experiments.trainsets import build_trainset
from hardpos.files.datasets import load_dataset, save_dataset
from hardpos.files.images import ImageStack, load_images
from hardpos.imagenet.folders import INDEX_COLUMNS, CropDataset
from hardpos.training.classifier_finetuning import MixedSet

SHAPE = (3, 224, 224)


class LinearColour(nn.Module):
    def __init__(self, classes: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.ip = nn.Linear(int(np.prod(SHAPE)), classes)

    def logits(self, x):
        return self.ip(x.float().flatten(1) / 255.0)


def rss_anon() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def measure(work) -> tuple[float, int, int]:
    """(seconds, traced peak, anonymous RSS peak growth) of ``work()``."""
    peak, done = [rss_anon()], threading.Event()
    base = peak[0]

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_anon())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        work()
    finally:
        seconds = time.perf_counter() - started
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        done.set()
        sampler.join()
    return seconds, traced, max(peak[0], rss_anon()) - base


def stages(args: argparse.Namespace, folder: Path, model: nn.Module) -> dict:
    """The stage runs, by name, on the files in ``folder``."""
    files = {"images": folder / "adv.npz", "table": folder / "table.parquet"}

    def run_generate(limit=None):
        generate_adversarials(
            model="linear", dataset=folder / "set.npz", family="hc-d", k=args.k,
            factors=[1.0], limit=limit, net=1, out_images=files["images"],
            out_table=files["table"], batch_size=args.attack_batch, device="cpu",
        )  # fmt: skip

    def run_score():
        score_pass(images=files["images"], table=files["table"], dataset=folder / "set.npz",
                   out_table=folder / "scored.parquet", backend="opencv",
                   batch_size=args.pass_batch, device="cpu")  # fmt: skip

    def run_trainset():
        recipe = Recipe(name="HC", method="hc-d", k=args.k)
        build_trainset(recipe=recipe, net=1, images=files["images"],
                       table=folder / "scored.parquet", out=folder / "trainset.npz")  # fmt: skip

    def run_items():
        no_crops = CropDataset(pd.DataFrame(columns=list(INDEX_COLUMNS)))
        labels = load_dataset(folder / "trainset.npz")[1]
        data = MixedSet(no_crops, ImageStack([folder / "trainset.npz"]), labels)
        for i in range(len(data)):
            data[i]

    def run_in_memory():
        source, source_labels = load_dataset(folder / "set.npz", mmap=False)
        adv, _ = generate(model, source, source_labels, methods=f"hc-d-{args.k}",
                          batch_size=args.attack_batch)  # fmt: skip
        with open(folder / "old.npz", "wb") as handle:
            np.savez_compressed(handle, images=adv)

    return {
        "generate": run_generate,
        "score_pass": run_score,
        "trainset": run_trainset,
        "fine-tuning items": run_items,
        "generate, in memory": run_in_memory,
    }


def child(args: argparse.Namespace) -> None:
    """Run one stage in this fresh process and print its measurements as JSON."""
    import pyarrow.parquet  # noqa: F401  (imported by the first Parquet call otherwise)

    torch.set_num_threads(1)
    model = LinearColour(args.k + 1).eval()
    hardpos.experiments.adversarials.load_model = lambda path, device: model
    work = stages(args, Path(args.folder), model)[args.stage]
    if args.stage == "generate":  # first calls outside the measurement
        stages(args, Path(args.folder) / "warm-up", model)["generate"](limit=2)
    seconds, traced, anon = measure(work)
    print(json.dumps({"seconds": seconds, "traced": traced, "anon": anon}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--k", type=int, default=4, help="hot ranks: images per source")
    parser.add_argument("--attack-batch", type=int, default=128)
    parser.add_argument("--pass-batch", type=int, default=256)
    parser.add_argument("--in-memory", action="store_true", help="also the previous way")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        return child(args)
    model = LinearColour(args.k + 1).eval()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "warm-up").mkdir()
        images = np.random.default_rng(0).integers(40, 216, (args.sources, *SHAPE), np.uint8)
        with torch.no_grad():
            labels = model.logits(torch.from_numpy(images)).argmax(1).numpy()
        for where in (folder, folder / "warm-up"):
            save_dataset(where / "set.npz", images, labels)
        del images
        names = ["generate", "score_pass", "trainset", "fine-tuning items"]
        names += ["generate, in memory"] if args.in_memory else []
        print(f"{'stage':<20} {'seconds':>8} {'traced MiB':>11} {'anon MiB':>9}", flush=True)
        for name in names:
            command = [sys.executable, __file__, "--stage", name, "--folder", str(folder)]
            command += [f"--sources={args.sources}", f"--k={args.k}"]
            command += [f"--attack-batch={args.attack_batch}", f"--pass-batch={args.pass_batch}"]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"{name:<20} {r['seconds']:8.1f} {r['traced'] / 2**20:11.1f} "
                  f"{r['anon'] / 2**20:9.1f}", flush=True)  # fmt: skip
        full = load_images(folder / "adv.npz").nbytes
        print(
            f"{args.sources} sources x {args.k} directions: {full / 2**20:.0f} MiB of crops; "
            f"attack.batch_size {args.attack_batch}, pass.batch_size {args.pass_batch}"
        )


if __name__ == "__main__":
    main()
