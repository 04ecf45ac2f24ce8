"""Mutation check of the test suite: does each plausible bug make some test fail?

Not collected by pytest (no ``test_`` prefix). Run from the repository root:

    .venv/bin/python tests/mutation_check.py            # every mutation
    .venv/bin/python tests/mutation_check.py --list     # their names
    .venv/bin/python tests/mutation_check.py --only swap-own-other,ignore-init

Each mutation is a small textual change to the library or the workflow (found by its text,
wherever it lives under ``src/`` or ``workflow/``, so the check survives modules being
moved). For each one a fresh copy of the repository is made in a temporary folder (the
working tree is never touched), the change applied there, and the named test files run
against the copy (``PYTHONPATH`` its ``src``). A mutation is *caught* when at least one of
those tests fails; the table printed at the end says by which. First the same tests run
on the unchanged copy: a test failing there would "catch" everything, so the check stops.

A pattern that is not found exactly once is reported (``pattern missing``), not applied:
after a refactor, update the mutation's text here.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPIED = ("src", "tests", "workflow", "config", "envs", "profiles", "Snakefile", "Makefile",
          "pyproject.toml")  # fmt: skip
SEARCHED = ("src", "workflow")


@dataclass(frozen=True)
class Mutation:
    """``old`` -> ``new`` (pairs applied in turn); ``tests``: pytest arguments that should
    catch it (files and ``-k`` expressions)."""

    name: str
    bug: str
    edits: tuple[tuple[str, str], ...]
    tests: tuple[str, ...]


def m(name: str, bug: str, edits: list[tuple[str, str]], *tests: str) -> Mutation:
    return Mutation(name, bug, tuple(edits), tuple(tests))


MUTATIONS = [
    # --- PASS buckets (Figure 6) ----------------------------------------------------------
    m("bucket-edge-inclusive", "a score on an inner edge counted in the lower bucket too",
      [("upper = scores <= high if high >= 1.0 else scores < high", "upper = scores <= high")],
      "tests/unit/experiments/test_recipes.py"),
    m("bucket-top-exclusive", "PASS 1.0 left out of the last bucket",
      [("upper = scores <= high if high >= 1.0 else scores < high", "upper = scores < high")],
      "tests/unit/experiments/test_recipes.py"),
    m("bucket-lower-edge-exclusive", "a score on a lower edge left out of its bucket",
      [("(scores >= low) & upper", "(scores > low) & upper")],
      "tests/unit/experiments/test_recipes.py"),
    m("per-bucket-ignored", "per_bucket not applied",
      [("count = smallest if per_bucket is None else min(per_bucket, smallest)",
        "count = smallest")],
      "tests/unit/experiments/test_recipes.py"),
    # --- training ---------------------------------------------------------------------------
    m("ignore-init", "fine-tuning starts from fresh weights instead of init",
      [("if state is None and init is not None:", "if False and init is not None:")],
      "tests/unit/training/test_lenet_training.py", "-k", "fine_tuning or twice"),
    m("init-momentum-dropped", "fine-tuning loads init's weights but not its momentum",
      [("state, _ = load_checkpoint(init, device)",
        "state, _ = load_checkpoint(init, device)\n"
        "        state.momentum = [torch.zeros_like(v) for v in state.momentum]")],
      "tests/unit/training/test_lenet_training.py", "-k", "fine_tuning or twice"),
    m("init-counter-reset", "fine-tuning restarts the lr policy at iteration 0",
      [("        for p in params:\n            p.grad = None\n        loss.backward()\n"
        "        lr = solver.learning_rate(state.iteration)",
        "        for p in params:\n            p.grad = None\n        loss.backward()\n"
        "        lr = solver.learning_rate(state.iteration - first)")],
      "tests/unit/training/test_lenet_training.py", "-k", "fine_tuning or twice"),
    m("drop-bias-multiplier", "biases at the base learning rate, not twice it",
      [("lr_mults = [solver.bias_lr_mult if id(p) in biases else 1.0 for p in params]",
        "lr_mults = [1.0 for p in params]")],
      "tests/unit/training/test_lenet_training.py", "-k", "fine_tuning or twice"),
    # --- attacks -----------------------------------------------------------------------------
    m("factor-rows-neighbour-s-min", "factor rows scaled from another pair's s_min",
      [("step = torch.where(ok.view(-1, 1), result.scale.view(-1, 1) * fac, "
        "result.scale.view(-1, 1))",
        "step = torch.where(ok.view(-1, 1), torch.where(fac == 1.0, result.scale.view(-1, 1), "
        "result.scale.roll(1).view(-1, 1) * fac), result.scale.view(-1, 1))")],
      "tests/unit/attacks/test_generation.py", "-k", "hard_positives"),
    m("factor-rows-own-s-min", "factor rows record their own scale c*s_min as s_min",
      [('"s_min": torch.where(ok, result.scale, torch.nan)\n            .repeat_interleave(n_fac)',
        '"s_min": torch.where(ok.repeat_interleave(n_fac), step.reshape(-1), torch.nan)')],
      "tests/unit/attacks/test_generation.py", "-k", "hard_positives"),
    m("factor-rows-success-not-rechecked", "scaled images keep the factor-1 label",
      [("    if bool(fresh.any()):\n        adv_logits[fresh]",
        "    if False:\n        adv_logits[fresh]")],
      "tests/unit/attacks/test_generation.py", "-k", "hard_positives"),
    m("search-stops-early", "the bracket closes before one breakpoint is left: not minimal",
      [("closing = rows_all[(phase == 1) & (after_lo >= hi)]",
        "closing = rows_all[(phase == 1) & (after_lo * 1.05 >= hi)]")],
      "tests/unit/attacks/test_generation.py", "-k", "breakpoint or brute or minimal or colour"),
    m("hot-tie-higher-id", "hot-class ties broken by the higher class id",
      [("order = torch.sort(h.masked_fill(onehot, -torch.inf), dim=1, descending=True, "
        "stable=True)",
        "order = torch.sort(h.masked_fill(onehot, -torch.inf) + 1e-9 * torch.arange("
        "h.shape[1], dtype=h.dtype, device=h.device), dim=1, descending=True, stable=True)")],
      "tests/unit/attacks/test_generation.py",
      "tests/unit/attacks/test_directions.py", "-k", "ties or hot_cold"),
    # --- PASS --------------------------------------------------------------------------------
    m("pass-grey-first-channel", "colour ECC aligned on the red channel, not the luma",
      [("return (r * images[:, 0] + g * images[:, 1] + b * images[:, 2]).astype(np.float32)",
        "return images[:, 0].astype(np.float32)")],
      "tests/unit/similarity/test_scoring.py", "-k", "colour or synthetic"),
    m("pass-one-channel-score", "colour PASS is the SSIM of the first channel only",
      [("scores[i] = np.mean([ssim_map(w, o).mean() for w, o in zip(warped, orig[i], "
        "strict=True)])",
        "scores[i] = ssim_map(warped[0], orig[i][0]).mean()")],
      "tests/unit/similarity/test_scoring.py", "-k", "colour or synthetic"),
    m("pass-forward-warp", "the adversarial warped forward instead of back",
      [("_WARP_FLAGS = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP", "_WARP_FLAGS = cv2.INTER_LINEAR")],
      "tests/unit/similarity/test_scoring.py", "-k", "colour or synthetic"),
    # --- held-out set and its errors ----------------------------------------------------------
    m("swap-own-other", "own parent's and other nets' held-out errors swapped",
      [('own = table["net"].to_numpy() == parent_net',
        'own = table["net"].to_numpy() != parent_net')],
      "tests/unit/experiments/test_evaluation.py",
      "tests/unit/experiments/test_trainsets.py"),
    m("heldout-row-offset", "every net's rows index the first net's images",
      [('table["row"] = sum(len(other) for other in stacks) + np.arange(len(table))',
        'table["row"] = np.arange(len(table))')],
      "tests/unit/experiments/test_evaluation.py",
      "tests/unit/experiments/test_trainsets.py"),
    m("heldout-shortfall-padded", "a type short of images is padded by drawing twice",
      [("take = np.sort(rng.choice(rows, min(per_type, len(rows)), replace=False))",
        "take = np.sort(rng.choice(rows, per_type, replace=True))")],
      "tests/unit/experiments/test_evaluation.py",
      "tests/unit/experiments/test_trainsets.py", "tests/unit/experiments/test_recipes.py"),
    m("evaluate-subset", "the MNIST test error counted on every second image",
      [('result["mnist_test"] = _errors(predict(net, images, device=dev) != labels)',
        'result["mnist_test"] = _errors(predict(net, images[::2], device=dev) != labels[::2])')],
      "tests/unit/experiments/test_evaluation.py",
      "tests/unit/experiments/test_trainsets.py"),
    # --- Table 1 ----------------------------------------------------------------------------
    m("by-type-reads-overall", "each held-out type column filled with the overall error",
      [('row[f"type:{name}"] = 100.0 * float(entry["error"])',
        'row[f"type:{name}"] = _percent(record, "heldout")')],
      "tests/unit/report/test_table1.py"),
    m("table-own-other-swapped", "Table 1's own/other columns read each other's error",
      [("row.update({key: _percent(record, key) for key in ERROR_SETS})",
        "row.update({key: _percent(record, {'heldout_own': 'heldout_other', 'heldout_other': "
        "'heldout_own'}.get(key, key)) for key in ERROR_SETS})")],
      "tests/unit/report/test_table1.py"),
    # --- top-k (ImageNet) ---------------------------------------------------------------------
    m("topk-six-guesses", "top-5 error with six guesses",
      [("k = min(5, int(model.num_classes))", "k = min(6, int(model.num_classes))")],
      "tests/unit/metrics/test_classification.py", "-k", "topk or selection"),
    m("top1-from-two-guesses", "top-1 counted as a hit when the label is second",
      [("wrong1 += int((~hit[:, 0]).sum())", "wrong1 += int((~hit[:, :2].any(dim=1)).sum())")],
      "tests/unit/metrics/test_classification.py", "-k", "topk or selection"),
    # --- figures ----------------------------------------------------------------------------
    m("fig4-counts-failures", "Figure 4 counts failed attacks too",
      [('table = table[table["success"].astype(bool)].copy()', "table = table.copy()")],
      "tests/unit/report/test_figures.py"),
    m("fig5-l2-not-scaled-by-max", "Figure 5 scales L2 by the sum, not the largest mean",
      [('"L2 (scaled)": means["l2_per_pixel"] / means["l2_per_pixel"].max(),',
        '"L2 (scaled)": means["l2_per_pixel"] / means["l2_per_pixel"].sum(),')],
      "tests/unit/report/test_figures.py"),
    m("fig6-mnist-heldout-swapped", "Figure 6 plots held-out error under the MNIST title",
      [('(axes[0], "mnist_test", "MNIST test error (%)"),',
        '(axes[0], "heldout", "MNIST test error (%)"),')],
      "tests/unit/report/test_figures.py"),
    # --- deformations -----------------------------------------------------------------------
    m("deform-salted-hash", "a deformation seeded from Python's salted str hash",
      [("rng = np.random.default_rng([seed, index])",
        "rng = np.random.default_rng([seed, index, hash('infimnist') % 1000])")],
      "tests/unit/mnist/test_deformations.py", "-k", "processes"),
    # --- the workflow ------------------------------------------------------------------------
    m("trainset-from-first-net", "every net's training set drawn from net 1's adversarials",
      [('"images": adv_images("train", wildcards.net, recipe.method),',
        '"images": adv_images("train", NETS[0], recipe.method),'),
       ('"table": adv_scored("train", wildcards.net, recipe.method),',
        '"table": adv_scored("train", NETS[0], recipe.method),')],
      "tests/test_workflow_dag.py"),
    m("finetune-from-first-net", "every net fine-tuned from net 1's solver state",
      [('return solver_file(f"base/net{net}") if DATASET == "mnist"',
        'return solver_file(f"base/net{NETS[0]}") if DATASET == "mnist"')],
      "tests/test_workflow_dag.py"),
]  # fmt: skip


def copy_repo(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", ".snakemake", "results", "*.pyc")
    for item in COPIED:
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, target / item, ignore=ignore, symlinks=True)
        elif src.exists():
            shutil.copy(src, target / item)
    venv = REPO / ".venv"
    if venv.exists():
        (target / ".venv").symlink_to(venv.resolve())


def apply(root: Path, mutation: Mutation) -> list[str] | str:
    """Apply the edits under ``root``; the files changed, or why not."""
    changed = []
    for old, new in mutation.edits:
        hits = []
        for top in SEARCHED:
            for path in sorted((root / top).rglob("*")):
                if path.suffix in (".py", ".smk") or path.name == "Snakefile":
                    text = path.read_text()
                    if old in text:
                        hits.append((path, text.count(old)))
        if len(hits) != 1 or hits[0][1] != 1:
            where = ", ".join(f"{p.relative_to(root)} x{n}" for p, n in hits) or "nowhere"
            return f"pattern missing ({where}): {old[:60]!r}"
        path = hits[0][0]
        path.write_text(path.read_text().replace(old, new))
        changed.append(str(path.relative_to(root)))
    return changed


def run_tests(root: Path, args: tuple[str, ...], timeout: int) -> tuple[int, list[str], str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    # the copy lives elsewhere: point the tests at this checkout's MNIST (conftest's default)
    mnist = REPO.parent / "shared" / "data" / "mnist"
    if "HARDPOS_MNIST_DIR" not in env and mnist.is_dir():
        env["HARDPOS_MNIST_DIR"] = str(mnist)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf",
               "--tb=no", *args]  # fmt: skip
    try:
        run = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                             timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        return -1, [], "timeout"
    failed = re.findall(r"(?m)^FAILED (\S+)", run.stdout)
    failed = [f.split("::", 1)[1] if "::" in f else f for f in failed]
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-300:]
    return run.returncode, failed, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print the mutations and exit")
    parser.add_argument("--only", default="", help="comma-separated mutation names")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per pytest run")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unchanged run")
    options = parser.parse_args()
    chosen = MUTATIONS
    if options.only:
        names = set(options.only.split(","))
        unknown = names - {mu.name for mu in MUTATIONS}
        if unknown:
            parser.error(f"unknown mutations {sorted(unknown)}; see --list")
        chosen = [mu for mu in MUTATIONS if mu.name in names]
    if options.list:
        for mu in chosen:
            print(f"{mu.name:32s} {mu.bug}")
        return 0

    if not options.no_baseline:
        with tempfile.TemporaryDirectory(prefix="hardpos-mut-") as tmp:
            root = Path(tmp)
            copy_repo(root)
            groups = sorted({mu.tests for mu in chosen})
            for args in groups:
                code, failed, summary = run_tests(root, args, options.timeout)
                print(f"baseline {' '.join(args)}: {summary}", flush=True)
                if "skipped" in summary:
                    print("  (skipped tests catch nothing: is the real MNIST there?)", flush=True)
                if code != 0:
                    print(f"baseline fails ({failed}): fix the tests first", file=sys.stderr)
                    return 1

    rows = []
    for mu in chosen:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="hardpos-mut-") as tmp:
            root = Path(tmp)
            copy_repo(root)
            changed = apply(root, mu)
            if isinstance(changed, str):
                rows.append((mu.name, "-", changed, ""))
                print(f"{mu.name}: {changed}", flush=True)
                continue
            code, failed, summary = run_tests(root, mu.tests, options.timeout)
        status = "caught" if failed else ("error" if code not in (0, 1) else "NOT CAUGHT")
        if code == -1:
            status = "timeout"
        seconds = time.monotonic() - started
        rows.append((mu.name, ", ".join(changed), status, ", ".join(failed)))
        print(f"{mu.name}: {status} in {seconds:.0f} s ({summary})", flush=True)

    print("\n| mutation | file | result | caught by |\n|---|---|---|---|")
    for name, files, status, by in rows:
        print(f"| {name} | {files} | {status} | {by} |")
    return 0 if all(row[2] == "caught" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
