"""Which files each job of the paper's DAG reads, from the real snakemake's dry run:
every network is fine-tuned only on adversarials of its own base net.

A dry run reads no MNIST file (preparing the data has no inputs), so this runs without
the real data.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from test_workflow import REPO, snakemake


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    """A copy of the workflow, its config as committed."""
    for item in ("Snakefile", "workflow", "config", "envs", "profiles"):
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, tmp_path / item)
        elif src.exists():
            shutil.copy(src, tmp_path / item)
    (tmp_path / "src").symlink_to(REPO / "src")
    return tmp_path


def _jobs(dry_run: str) -> list[dict]:
    """Each job of a dry run as {rule, input: [...], output: [...], wildcards: {...}}."""
    jobs = []
    for block in re.split(r"(?m)^(?:localrule|rule) ", dry_run)[1:]:
        rule = block.split(":", 1)[0].strip()
        fields = dict(re.findall(r"(?m)^    (\w+): (.*)$", block))
        jobs.append({
            "rule": rule,
            "input": fields.get("input", "").split(", ") if fields.get("input") else [],
            "output": fields.get("output", "").split(", "),
            "wildcards": dict(w.split("=", 1) for w in fields.get("wildcards", "").split(", ")
                              if "=" in w),
        })  # fmt: skip
    return jobs


def test_each_net_is_fine_tuned_only_on_its_own_base_nets_adversarials(workflow_copy):
    """Catches: a recipe's training set drawn from another net's (or every net's)
    adversarials, fine-tuning started from another base net, a net attacked with another
    net's model. Checked on all three nets of the paper's config."""
    run = snakemake(workflow_copy, "-n")
    assert run.returncode == 0, run.stderr
    jobs = _jobs(run.stdout)
    net_of = re.compile(r"/net(\d+)[/.-]")

    def nets(paths):
        return {m[1] for p in paths for m in [net_of.search(p)] if m}

    finetunes = [j for j in jobs if j["rule"] == "finetune"]
    assert len({j["wildcards"]["net"] for j in finetunes}) == 3
    for job in finetunes:
        net = job["wildcards"]["net"].removeprefix("net")  # the wildcard is net1, net2, ...
        assert nets(job["input"]) == {net}, job
        assert f"results/paper/models/base/net{net}.solver.pt" in job["input"]
    trainsets = [j for j in jobs if j["rule"] == "trainset" and j["input"]]
    assert trainsets
    for job in trainsets:
        net = job["wildcards"]["net"].removeprefix("net")  # the wildcard is net1, net2, ...
        assert nets(job["input"]) == {net}, job
        assert all(f"adversarials/train/net{net}/" in p for p in job["input"]), job
    for job in (j for j in jobs if j["rule"] in ("generate", "score_pass")):
        assert len(nets(job["input"] + job["output"])) == 1, job
