"""Held-out delta ablation, phase B: a held-out set per delta, every model evaluated on it.

Runs with the stats branch's code (heldout.delta through build_heldout). Reads phase A's
outputs under /tmp/stats-ablation/results; writes per delta a held-out set, one
evaluation record per model (MNIST test error from the model's training sidecar, which
train_net measured on the same 10K test images; held-out errors by the evaluation
stage's heldout_errors), Table 1 with the statistics columns and held-out by type, and
one summary CSV over all deltas.

    PYTHONPATH=<stats worktree>/src nice -n 10 python phase_b.py config/config.yaml 300
"""

import json
import logging
import sys
from pathlib import Path

import pandas as pd
import torch
import yaml

from hardpos.experiments.evaluation import heldout_errors
from hardpos.experiments.models import load_model
from hardpos.experiments.trainsets import build_heldout
from hardpos.files.atomic import write_json
from hardpos.files.datasets import load_dataset
from hardpos.files.parquet import load_table
from hardpos.metrics.classification import predict
from hardpos.report import table1 as t1

torch.set_num_threads(1)
logging.basicConfig(
    level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout
)
log = logging.getLogger("phase_b")

ROOT = Path("/tmp/stats-ablation/results")
DELTAS = [0.0, 0.05, 0.1, 0.2, 0.3]
TYPES = yaml.safe_load(Path(sys.argv[1]).read_text())["heldout"]["types"]
PER_TYPE = int(sys.argv[2]) if len(sys.argv) > 2 else 500
FAMILIES = ["fgs", "fgv", "hc-d", "hc-s"]
ORDER = ["basic", "clean", "FGS", "FGV", "HC-D-5", "HC-S-5", "HC-D-9", "HC-D-9-1.05"]


def nets_with_test_split():
    nets = []
    for net in (1, 2, 3):
        base = ROOT / "adversarials" / "test" / f"net{net}"
        if all((base / f / "table.parquet").is_file() for f in FAMILIES):
            nets.append(net)
    return nets


def models(nets):
    found = [(f"base/net{n}", "basic", n, None) for n in nets]
    for path in sorted((ROOT / "models" / "finetune").glob("*/net*-order*.pt")):
        if path.name.endswith(".solver.pt"):
            continue
        net, order = path.stem.removeprefix("net").split("-order")
        if int(net) in nets:
            found.append(
                (f"finetune/{path.parent.name}/{path.stem}", path.parent.name, int(net), int(order))
            )
    return found


def tag(delta):
    return f"delta{delta:.2f}"


def main():
    nets = nets_with_test_split()
    log.info("base nets with a test split: %s", nets)
    out_root = ROOT / "ablation" / f"nets{''.join(map(str, nets))}-per{PER_TYPE}"
    sets = {}
    for delta in DELTAS:
        held = out_root / "heldout" / tag(delta)
        held.mkdir(parents=True, exist_ok=True)
        if not (held / "heldout.parquet").is_file():
            generated = {
                n: [
                    (
                        str(ROOT / "adversarials" / "test" / f"net{n}" / f / "images.npz"),
                        str(ROOT / "adversarials" / "test" / f"net{n}" / f / "table.parquet"),
                    )
                    for f in FAMILIES
                ]
                for n in nets
            }
            build_heldout(
                generated=generated,
                types=TYPES,
                per_type=PER_TYPE,
                seed=0,
                out_set=held / "heldout.npz",
                out_table=held / "heldout.parquet",
                delta=delta,
            )
        images, labels = load_dataset(held / "heldout.npz")
        sets[delta] = (images, labels, load_table(held / "heldout.parquet"))
    records = {delta: [] for delta in DELTAS}
    for mid, recipe, net, order in models(nets):
        path = ROOT / "models" / f"{mid}.pt"
        side = json.loads(Path(str(path) + ".json").read_text())
        model = None
        for delta in DELTAS:
            out = out_root / "eval" / tag(delta) / f"{mid}.json"
            records[delta].append(out)
            if out.is_file():
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            if model is None:
                model = load_model(path, "cpu")
            images, labels, table = sets[delta]
            wrong = predict(model, images) != labels
            record = {
                "model": str(path),
                "recipe": recipe,
                "net": net,
                "order": order,
                "parent_net": net,
                "delta": delta,
                "train_images": side.get("train_images", 0),
                "mnist_test": side["test"],
                **heldout_errors(wrong, table, net),
            }
            write_json(out, record)
            log.info("%s delta %.2f: held-out %.4f", mid, delta, record["heldout"]["error"])
    summary = []
    for delta in DELTAS:
        evals = t1.load_evaluations(records[delta])
        table = t1.table1(evals, recipe_order=ORDER)
        tables = out_root / "tables" / tag(delta)
        tables.mkdir(parents=True, exist_ok=True)
        t1.write_table1(table, tables / "table1.csv", tables / "table1.md", tables / "table1.tex")
        by_type = t1.heldout_type_table(evals, recipe_order=ORDER)
        t1.write_heldout_type_table(
            by_type, tables / "heldout_by_type.csv", tables / "heldout_by_type.md"
        )
        for _, row in table.iterrows():
            summary.append(
                {
                    "delta": delta,
                    "recipe": row["recipe"],
                    "networks": row["networks"],
                    "heldout": row["heldout_mean"],
                    "own": row["heldout_own_mean"],
                    "other": row["heldout_other_mean"],
                    "mnist": row["mnist_test_mean"],
                }
            )
    frame = pd.DataFrame(summary)
    frame.to_csv(out_root / "delta_summary.csv", index=False)
    (out_root / "nets.json").write_text(json.dumps({"nets": nets, "per_type": PER_TYPE}))
    print(frame.round(2).to_string())


if __name__ == "__main__":
    main()
