"""Held-out delta ablation, phase A (the expensive part), as run with the library of
commit a4b9692 (module names from before the packages move: hardpos.stages.*).

Steps, each resumable (finished outputs are skipped), run as
``PYTHONPATH=<a4b9692 checkout>/src nice -n 10 python phase_a.py STEP NET ...``:

- ``base NET``: the mini config's base net (10K iterations, seed NET), as rule train_base;
  net2 was instead copied from the paper-scale run's identical base stage (copy_base).
- ``test NET N``: the held-out families on the first N test images, at every factor
  c x (1 + delta) the ablation needs (c: the types' own factors 1, 1.05, 1.10).
- ``train NET N FAMILIES``: the recipes' training-split adversarials on the first N
  training images (the mini config: 5000; the ablation used 2000 for want of CPU).
- ``finetune NET ITERATIONS RECIPES``: each recipe's training set and one fine-tuned net
  (order 1) continuing the base net's solver for ITERATIONS (the mini config: 2000).

Phase B (phase_b.py: the held-out set per delta and the evaluations) runs with the stats
branch's code, through ``heldout.delta``.
"""

import logging
import shutil
import sys
import time
from pathlib import Path

import torch
import yaml
from hardpos.recipes import parse_recipes
from hardpos.stages.datasets import build_trainset
from hardpos.stages.generation import generate_adversarials
from hardpos.stages.training import train_net

torch.set_num_threads(1)
logging.basicConfig(
    level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout
)
log = logging.getLogger("phase_a")

ROOT = Path("/tmp/stats-ablation/results")
PAPER = Path("/root/paper-run/results")
CFG = yaml.safe_load(Path("/tmp/stats-snap/config/config.yaml").read_text())
NETS = [1, 2, 3]
DELTAS = [0.0, 0.05, 0.1, 0.2, 0.3]
TYPE_FACTORS = {"fgs": [1.0], "fgv": [1.0], "hc-d": [1.0, 1.05, 1.10], "hc-s": [1.0]}
TEST_K = {"fgs": 0, "fgv": 0, "hc-d": 9, "hc-s": 1}
TRAIN = {"fgs": (0, [1.0]), "fgv": (0, [1.0]), "hc-d": (9, [1.0, 1.05]), "hc-s": (5, [1.0])}
RECIPES = parse_recipes(CFG["recipes"])


def factors(base):
    return sorted({round(f * (1 + d), 4) for f in base for d in DELTAS})


def done(path):
    return Path(path).is_file()


def train_base(net):
    """The mini config's base net (10K iterations, seed = net), as rule train_base makes it."""
    out = ROOT / "models" / "base" / f"net{net}.pt"
    if done(out):
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    (ROOT / "checkpoints" / "base").mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    train_net(
        train_sets=[ROOT / "data" / "mnist-train.npz"],
        test_set=ROOT / "data" / "mnist-test.npz",
        seed=net,
        iterations=10000,
        solver=CFG["solver"],
        checkpoint_every=500,
        out_model=out,
        out_solver=ROOT / "models" / "base" / f"net{net}.solver.pt",
        checkpoint=ROOT / "checkpoints" / "base" / f"net{net}.ckpt",
        device="cpu",
        meta={"recipe": "basic", "net": net},
    )
    log.info("TIMING base net%d %.0fs", net, time.time() - t0)


def copy_base(net):
    (ROOT / "models" / "base").mkdir(parents=True, exist_ok=True)
    if done(ROOT / "models" / "base" / f"net{net}.solver.pt"):
        return
    for suffix in (".pt", ".pt.json", ".solver.pt"):
        src = PAPER / "models" / "base" / f"net{net}{suffix}"
        while not done(src):
            log.info("waiting for %s", src)
            time.sleep(30)
        dst = ROOT / "models" / "base" / f"net{net}{suffix}"
        if not done(dst):
            time.sleep(5)
            shutil.copy(src, dst)


def test_gen(net, n_images):
    copy_base(net)
    model = ROOT / "models" / "base" / f"net{net}.pt"
    for family, k in TEST_K.items():
        out = ROOT / "adversarials" / "test" / f"net{net}" / family
        if done(out / "table.parquet"):
            continue
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        generate_adversarials(
            model=model,
            dataset=ROOT / "data" / "mnist-test.npz",
            family=family,
            k=k,
            factors=factors(TYPE_FACTORS[family]),
            limit=n_images,
            net=net,
            out_images=out / "images.npz",
            out_table=out / "table.parquet",
            batch_size=4096,
            device="cpu",
        )
        log.info("TIMING test %s net%d %.0fs", family, net, time.time() - t0)


def train_gen(net, n_images, families):
    copy_base(net)
    model = ROOT / "models" / "base" / f"net{net}.pt"
    for family in families:
        k, fs = TRAIN[family]
        out = ROOT / "adversarials" / "train" / f"net{net}" / family
        if done(out / "table.parquet"):
            continue
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        generate_adversarials(
            model=model,
            dataset=ROOT / "data" / "mnist-train.npz",
            family=family,
            k=k,
            factors=fs,
            limit=n_images,
            net=net,
            out_images=out / "images.npz",
            out_table=out / "table.parquet",
            batch_size=4096,
            device="cpu",
        )
        log.info("TIMING train %s net%d %.0fs", family, net, time.time() - t0)


def finetune(net, names, iterations, order=1):
    by_name = {r.name: r for r in RECIPES}
    for name in names:
        recipe = by_name[name]
        trainset = ROOT / "trainsets" / recipe.name / f"net{net}.npz"
        if not done(trainset):
            trainset.parent.mkdir(parents=True, exist_ok=True)
            adv = ROOT / "adversarials" / "train" / f"net{net}" / recipe.method
            build_trainset(
                recipe=recipe,
                net=net,
                images=adv / "images.npz" if recipe.adversarial else None,
                table=adv / "table.parquet" if recipe.adversarial else None,
                out=trainset,
            )
        mid = f"finetune/{recipe.name}/net{net}-order{order}"
        out = ROOT / "models" / f"{mid}.pt"
        if done(out):
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        (ROOT / "checkpoints" / mid).parent.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        train_net(
            train_sets=[ROOT / "data" / "mnist-train.npz", trainset],
            test_set=ROOT / "data" / "mnist-test.npz",
            seed=order,
            iterations=10000 + iterations,
            solver=CFG["solver"],
            checkpoint_every=250,
            out_model=out,
            out_solver=ROOT / "models" / f"{mid}.solver.pt",
            checkpoint=ROOT / "checkpoints" / f"{mid}.ckpt",
            init=ROOT / "models" / "base" / f"net{net}.solver.pt",
            extra_fraction=None,
            device="cpu",
            meta={"recipe": recipe.name, "net": net, "order": order},
        )
        log.info("TIMING finetune %s net%d %.0fs", recipe.name, net, time.time() - t0)


def main():
    (ROOT / "data").mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        dst = ROOT / "data" / f"mnist-{split}.npz"
        if not done(dst):
            shutil.copy(PAPER / "data" / f"mnist-{split}.npz", dst)
    step, net, *rest = sys.argv[1:]
    net = int(net)
    if step == "base":
        train_base(net)
    elif step == "test":
        test_gen(net, int(rest[0]))
    elif step == "train":
        train_gen(net, int(rest[0]), rest[1].split(","))
    elif step == "finetune":
        finetune(net, rest[1].split(","), int(rest[0]))
    log.info("step %s net%d done", step, net)


if __name__ == "__main__":
    main()
