"""The real snakemake on a temporary copy of the workflow: dry runs, config errors, lint,
and the smoke config run through `make run` (killed during fine-tuning, then resumed),
then the paper config planned and dry-run beside it, leaving it alone."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from report_browser import CHROMIUM, open_entry
from workflow_outputs import copy_workflow, finished_outputs, running_jobs_files

from hardpos.workflow.provenance import read_runs
from hardpos.workflow.publish import publish

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent
SNAKEMAKE = VENV / "bin" / "snakemake"
SNAKEFILES = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
# the smoke run's rules that compute (each has a benchmark:); the others only tabulate or draw
COMPUTING_RULES = (
    "prepare_mnist", "augment", "train_base", "train_infimnist", "generate", "score_pass",
    "trainset", "trainset_buckets", "heldout", "finetune", "evaluate", "robustness",
)  # fmt: skip


@pytest.fixture
def workdir(tmp_path: Path, real_mnist: Path) -> Path:
    """A copy of the workflow whose default MNIST folder is the real one."""
    copy_workflow(tmp_path, ("Snakefile", "Makefile", "workflow", "config", "envs", "profiles"))
    path = tmp_path / "config" / "config.yaml"
    path.write_text(re.sub(r"(?m)^mnist_dir:.*$", f"mnist_dir: {real_mnist}", path.read_text()))
    return tmp_path


def snakemake(workdir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SNAKEMAKE), "--cores", "2", "--resources", "gpu=2", *args],
        cwd=workdir, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def make_run(workdir: Path, args: str) -> subprocess.Popen:
    """`make run` as a user types it, on the already-installed virtualenv."""
    stamp = VENV / ".hardpos-installed"
    command = ["make", "-o", str(stamp), "run", f"VENV={VENV}", f"ARGS={args}"]
    return subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip


def make_target(workdir: Path, target: str, args: str, *more: str) -> subprocess.CompletedProcess:
    stamp = VENV / ".hardpos-installed"
    return subprocess.run(
        ["make", "-o", str(stamp), target, f"VENV={VENV}", f"ARGS={args}", *more],
        cwd=workdir, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def job_counts(dry_run_stdout: str) -> dict[str, int]:
    table = dry_run_stdout.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"(?m)^(\w+)\s+(\d+)\s*$", table)}


def test_dry_run_of_the_paper_config_plans_the_papers_experiment(workdir):
    run = snakemake(workdir, "-n")
    assert run.returncode == 0, run.stderr
    counts = job_counts(run.stdout)
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    recipes = len(config["recipes"]) + len(config["buckets"]["edges"]) - 1
    assert counts["train_base"] == 3
    assert counts["finetune"] == 9 * recipes
    assert counts["train_infimnist"] == 3
    assert counts["heldout"] == 1
    assert config["heldout"]["per_type"] * len(config["heldout"]["types"]) == 70_000
    assert counts["evaluate"] == 3 + 9 * recipes + 3


def test_the_paper_rows_overlay_plans_the_papers_rows_and_the_clean_control(workdir):
    run = snakemake(workdir, "-n", "--configfile", "config/config.yaml", "config/paper-rows.yaml")
    assert run.returncode == 0, run.stderr
    counts = job_counts(run.stdout)
    config = yaml.safe_load((workdir / "config" / "paper-rows.yaml").read_text())
    names = [recipe["name"] for recipe in config["recipes"]]
    assert names == ["FGS", "FGV", "HC-D-5", "HC-S-5", "HC-D-9", "HC-D-9-1.05", "clean"]
    assert counts["finetune"] == 9 * (len(names) + 5)  # and the five PASS ranges of Figure 6
    assert counts["evaluate"] == 3 + counts["finetune"] + 3
    assert "robustness" not in counts and counts["train_infimnist"] == 3
    assert sum(counts.values()) == 310


def test_make_background_runs_the_workflow_in_a_low_priority_session(workdir):
    """`make background` as a user types it: the smoke config's dry run, in the log."""
    args = "--configfile config/smoke.yaml -n --config results=out"
    started = make_target(workdir, "background", args, "LOG=logs/bg.log")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "started in the background" in started.stdout and "nice 19" in started.stdout
    log = workdir / "logs" / "bg.log"
    head = log.read_text().splitlines()[:2]
    assert "make --no-print-directory" in head[0] and "config/smoke.yaml -n" in head[0]
    assert ", nice 19, session " in head[1]
    pid, deadline = int(head[1].split("pid ")[1].split(",")[0]), time.monotonic() + 300
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    text = log.read_text()
    assert "This was a dry-run" in text, text[-3000:]


def test_a_wrong_config_key_stops_with_a_message_naming_it(workdir):
    run = snakemake(workdir, "-n", "--config", "treads=2")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "unknown key 'treads'" in output
    assert "Traceback" not in output


def test_a_bad_recipe_stops_with_a_message_naming_it(workdir):
    config = workdir / "config" / "config.yaml"
    config.write_text(config.read_text().replace("method: fgv}", "method: fgv, k: 3}"))
    run = snakemake(workdir, "-n")
    assert run.returncode != 0
    assert "recipe 'FGV': k applies to hc-d and hc-s only" in run.stdout + run.stderr


@pytest.mark.skipif(Path("/proc/driver/nvidia/gpus").is_dir(), reason="a GPU is here")
def test_device_cuda_without_a_gpu_stops_the_dry_run_naming_the_key(workdir):
    """Accepted once, then every job failed on "Found no NVIDIA driver"."""
    run = snakemake(workdir, "-n", "--config", "device=cuda")
    assert run.returncode != 0
    assert "config key device: cuda, but no CUDA GPU is visible" in run.stdout + run.stderr


def test_make_run_names_a_config_file_that_is_not_yaml(workdir):
    (workdir / "config" / "bad.yaml").write_text("recipes: [\n  {name: x\n")
    run = make_target(workdir, "run", "--configfile config/bad.yaml")
    assert run.returncode != 0
    assert "config file config/bad.yaml, line 3: not valid YAML" in run.stderr, run.stderr
    assert not (workdir / "results").exists()


def test_the_reports_landing_page_names_the_config_files_that_ran(workdir):
    """It once showed only the results folder, under the label "Config"."""
    # -p ends --resources' list of values, so that the target is read as one
    target = ("-p", "results/smoke/data/mnist-test.npz")
    args = ("--configfile", "config/smoke.yaml", "--config", "device=cpu")
    made = snakemake(workdir, *target, *args)
    assert made.returncode == 0, made.stdout + made.stderr
    report = snakemake(workdir, *target, *args, "--report", "report.html")
    assert report.returncode == 0, report.stdout + report.stderr
    page = (workdir / "report.html").read_text()
    assert "This run's config: <tt" in page
    assert "config/config.yaml + config/smoke.yaml" in page and "device=cpu" in page


def test_lint_is_clean(workdir):
    run = subprocess.run(
        [str(SNAKEMAKE), "--lint"], cwd=workdir, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Lints for" not in run.stdout + run.stderr


def test_snakefmt_is_clean():
    """snakefmt with the project's line length (pyproject.toml [tool.snakefmt])."""
    run = subprocess.run(
        [str(VENV / "bin" / "snakefmt"), "--check", "Snakefile", "workflow/rules"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def rule_blocks() -> dict[str, str]:
    """Each rule's text (``rule NAME:`` or ``use rule ... as NAME with:``) in the Snakefiles."""
    head = re.compile(r"(?m)^[ \t]*(?:rule (\w+):|use rule \w+ as (\w+) with:)")
    blocks = {}
    for path in SNAKEFILES:
        text = path.read_text()
        starts = list(head.finditer(text))
        if not starts:
            continue
        for here, after in zip(starts, [*starts[1:], None], strict=True):
            blocks[here[1] or here[2]] = text[here.end() : after.start() if after else None]
    return blocks


def test_every_rule_either_leaves_a_benchmark_or_is_a_local_rule():
    """Rules that compute are benchmarked (per-job time and memory, for the SLURM runtimes
    and the plan); rules that only tabulate or draw run beside Snakemake, never as jobs."""
    local = set()
    for path in SNAKEFILES:
        for names in re.findall(r"(?m)^[ \t]*localrules:\s*\n((?:[ \t]+\w+,?[ \t]*\n)+)",
                                path.read_text()):  # fmt: skip
            local.update(re.findall(r"\w+", names))
    blocks = rule_blocks()
    benchmarked = {name for name, text in blocks.items() if "benchmark:" in text}
    assert {"train_base", "train_infimnist", "finetune", "generate", "evaluate"} <= benchmarked
    assert {"table1", "figure2", "figure6", "table_imagenet", "figure3"} <= local
    assert benchmarked.isdisjoint(local)
    assert set(blocks) - {"all"} == benchmarked | local


@pytest.mark.slow
def test_smoke_run_killed_during_fine_tuning_resumes_and_makes_every_table_and_figure(workdir):
    results = workdir / "results" / "smoke"  # the smoke config's own folder
    first = make_run(workdir, "--configfile config/smoke.yaml")
    deadline = time.monotonic() + 600
    checkpoints = results / "checkpoints" / "finetune"
    while time.monotonic() < deadline and first.poll() is None:
        if any(checkpoints.rglob("*.ckpt")):
            break
        time.sleep(0.2)
    assert first.poll() is None, "the smoke run ended before fine-tuning: " + first.stdout.read()
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    # a job that was running at the kill is redone even if it had just written its
    # outputs (Snakemake had not yet recorded it done): those are not finished ones
    (log,) = (workdir / ".snakemake" / "log").glob("*.log")
    running = running_jobs_files(log, workdir)
    finished = {p: t for p, t in finished_outputs(results).items() if p not in running}
    killed = sorted(p.name for p in checkpoints.rglob("*.ckpt"))
    assert killed

    # the killed run's lock stays: Snakemake refuses the directory, and make names the way out
    locked = make_run(workdir, "--configfile config/smoke.yaml")
    output, _ = locked.communicate(timeout=300)
    assert locked.returncode != 0
    assert "Directory cannot be locked" in output and "make unlock" in output, output[-3000:]
    made = finished_outputs(results).keys() - finished.keys() - running
    assert not made, f"the locked run made files: {sorted(made)}"
    unlock = make_target(workdir, "unlock", "--configfile config/smoke.yaml")
    assert unlock.returncode == 0, unlock.stdout[-2000:]
    assert not list((workdir / ".snakemake" / "locks").glob("*.lock"))

    second = make_run(workdir, "--configfile config/smoke.yaml")
    output, _ = second.communicate(timeout=900)
    assert second.returncode == 0, output[-4000:]
    for path, mtime in finished.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was redone"
    resumed = [p for p in (results / "logs" / "finetune").glob("*.log")
               if "resuming from" in p.read_text()]  # fmt: skip
    assert resumed, "no fine-tuning job resumed from its checkpoint"

    tables = results / "tables"
    for name in ("table1.csv", "table1.md", "table1.tex", "table1_vs_paper.csv",
                 "table1_vs_paper.md", "heldout_by_type.csv", "heldout_by_type.md"):  # fmt: skip
        assert (tables / name).stat().st_size > 0, name
    table1 = (tables / "table1.md").read_text()
    for recipe in ("basic", "FGS", "HC-D-9", "HC-D-3-1.10-tau", "HC-D-9-frontier-0.6", "clean",
                   "InfiMNIST-style"):  # fmt: skip
        assert recipe in table1
    for fig in ("fig2", "fig4", "fig5", "fig6"):
        assert (results / "figures" / f"{fig}.png").read_bytes()[:4] == b"\x89PNG"
        assert (results / "figures" / f"{fig}.pdf").read_bytes()[:4] == b"%PDF"
    # every rule that computes left its time and memory; the drawing and tabulating rules
    # (localrules) have no benchmark
    benchmarks = results / "benchmarks"
    assert sorted(p.name for p in benchmarks.iterdir()) == sorted(COMPUTING_RULES)
    for tsv in benchmarks.rglob("*.tsv"):
        header, row = tsv.read_text().splitlines()[:2]
        assert header.split("\t")[:2] == ["s", "h:m:s"] and float(row.split("\t")[0]) >= 0
    assert (benchmarks / "finetune" / "HC-D-9-net1-order2.tsv").is_file()
    report = (results / "report.html").read_text(errors="replace")
    assert "fig4.png" in report and "table1.csv" in report
    if CHROMIUM:  # what a reader sees in a browser: Table 1's numbers on the page
        shown = open_entry(results / "report.html", ["Tables", "view:Table 1"])
        fgs = next(line for line in table1.splitlines() if line.startswith("| FGS "))
        mnist = fgs.split("|")[4].strip()  # e.g. 3.855% ± 0.064
        assert mnist in shown and "MNIST vs clean, paired" in shown, shown[-2000:]
    again = snakemake(workdir, "--configfile", "config/smoke.yaml", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr

    # a report killed while it is written leaves the earlier one whole (it is written
    # beside report.html and renamed; a killed one once left it empty or cut)
    good = (results / "report.html").read_bytes()
    rerun = make_run(workdir, "--configfile config/smoke.yaml")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and rerun.poll() is None:
        reporting = subprocess.run(["pgrep", "-s", str(rerun.pid), "-f", "--report"],
                                   capture_output=True, check=False)  # fmt: skip
        if reporting.returncode == 0:
            time.sleep(0.5)  # into the report's writing
            break
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):  # it may have finished already
        os.killpg(rerun.pid, signal.SIGKILL)
    rerun.wait()
    now = (results / "report.html").read_bytes()
    assert now == good or (now.rstrip().endswith(b"</html>") and len(now) > len(good) // 2)

    # each start that ran jobs left its record (the killed one and the resumed one; the
    # locked one never started), and the finished run publishes as complete
    starts = read_runs(results)
    assert len(starts) >= 2 and all(s["config"]["results"] == "results/smoke" for s in starts)
    published = publish(results, workdir / "published", paper=workdir / "config/paper_table1.yaml")
    assert "**Complete**" in (published / "README.md").read_text()
    assert (published / "table1.csv").read_text() == (tables / "table1.csv").read_text()
    assert len(list((published / "eval").rglob("*.json"))) == len(
        list((results / "eval").rglob("*.json"))
    )
    the_paper_config_plans_and_dry_runs_beside_a_smoke_run_leaving_it_alone(workdir, results)


def file_states(folder: Path) -> dict[Path, tuple[int, int, str]]:
    """Every file's modification time and size, and its SHA-256 for the models."""
    states = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.suffix == ".pt" else ""
        states[path] = (path.stat().st_mtime_ns, path.stat().st_size, digest)
    return states


def the_paper_config_plans_and_dry_runs_beside_a_smoke_run_leaving_it_alone(
    workdir: Path, smoke: Path
) -> None:
    """Once, after a smoke run, `make plan` scaled the paper run by the smoke's benchmark
    files (24 minutes instead of 16 hours) and the paper run deleted its base net: every
    config now has its own folder, and one pointed at another's is refused untouched."""
    before = file_states(smoke)
    paper = "--configfile config/config.yaml config/paper-rows.yaml"
    planned = make_target(workdir, "plan", paper, "CORES=2")
    assert planned.returncode == 0, planned.stdout[-3000:] + planned.stderr[-3000:]
    plan = planned.stdout
    assert "Results folder: results/paper (config key results" in plan
    assert not re.search(r"\(x[\d.]+, \d+ benchmarks\)", plan), plan  # nothing scaled
    assert "Ignored" not in plan and "Not used" not in plan
    assert re.search(r"(?m)^total\s+310\s+310\s", plan), plan  # every job still to run
    # the advice for a long run on this machine, with the smaller configs, is still given
    assert "make background" in plan and 'ARGS="--configfile config/mini.yaml"' in plan
    dry = snakemake(workdir, "-n", *paper.split())
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert sum(job_counts(dry.stdout).values()) == 310  # what the plan said is to run
    assert str(smoke.relative_to(workdir)) not in dry.stdout
    # pointed at the smoke folder, the paper config (its plan, a real run) stops at once
    into_smoke = "--config results=results/smoke"
    refused = make_target(workdir, "plan", f"{paper} {into_smoke}")
    assert refused.returncode != 0
    assert "results folder results/smoke holds the outputs of another config" in refused.stderr
    run = snakemake(workdir, *paper.split(), *into_smoke.split())
    assert run.returncode != 0
    assert "--config results=results/smoke-2" in run.stdout + run.stderr
    assert file_states(smoke) == before


def test_the_jobs_running_at_a_kill_are_read_from_the_log(tmp_path):
    log = tmp_path / "run.log"
    log.write_text(
        "localrule generate:\n    input: results/models/base/net1.pt\n"
        "    output: results/a/images.npz, results/a/table.parquet\n"
        "    log: results/logs/a.log\n    jobid: 7\n"
        "    benchmark: results/benchmarks/generate/a.tsv\n    reason: Missing output files\n"
        "localrule trainset:\n    output: results/trainsets/b.npz\n    jobid: 8\n"
        "    reason: Missing output files\n"
        "Finished jobid: 8 (Rule: trainset)\n"
    )
    assert running_jobs_files(log, tmp_path) == {
        tmp_path / "results/a/images.npz",
        tmp_path / "results/a/table.parquet",
        tmp_path / "results/benchmarks/generate/a.tsv",
    }


def test_a_running_training_jobs_model_sidecar_counts_as_its_output(tmp_path):
    """The sidecar (.pt.json) is written by the training job beside its model, undeclared:
    a kill during that job leaves it to be rewritten like the model itself."""
    log = tmp_path / "run.log"
    log.write_text(
        "localrule train_infimnist:\n    output: results/models/infimnist/net1.pt, "
        "results/models/infimnist/net1.solver.pt\n    jobid: 3\n"
    )
    assert running_jobs_files(log, tmp_path) == {
        tmp_path / "results/models/infimnist/net1.pt",
        tmp_path / "results/models/infimnist/net1.pt.json",
        tmp_path / "results/models/infimnist/net1.solver.pt",
    }
