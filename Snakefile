# hardpos: regenerate "Adversarial Diversity and Hard Positive Generation" (Rozsa, Rudd,
# Boult 2016). Stages live in workflow/rules/; logic lives in the hardpos library.

import os
import sys

# The scheduler imports hardpos from this checkout; jobs get it from the environment
# (`make` installs it into .venv; envs/hardpos.post-deploy.sh into a conda env).
sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

from hardpos.workflow.config import ConfigError, check_no_links, validate_config
from hardpos.workflow.gpu_slots import cuda_hardware_present
from hardpos.workflow.provenance import record_run
from hardpos.workflow.results_folder import ResultsFolderError, check_results_folder
from hardpos.workflow.run_config import RunConfig

min_version("9.0")


configfile: "config/config.yaml"


try:
    validate_config(config, os.path.join(workflow.basedir, "config/schema.yaml"))
    check_no_links(config["results"])
    # before Snakemake can delete anything: a folder another config made is refused
    check_results_folder(config)
except (ConfigError, ResultsFolderError) as error:
    raise WorkflowError(str(error)) from None

# the same config, able to name the files and --config overrides it was made of (the
# report's landing page shows them)
config = RunConfig(
    config, files=workflow.config_settings.configfiles, overrides=workflow.config_settings.config
)

# jobs run here (not on a cluster's nodes) would each fail on "no NVIDIA driver"
if config["device"] == "cuda" and workflow.local_exec and not cuda_hardware_present():
    raise WorkflowError(
        "config key device: cuda, but no CUDA GPU is visible on this machine; use auto or "
        "cpu, or run the jobs where the GPUs are (profiles/slurm)"
    )


report: "workflow/report/workflow.rst"


# Each start that runs jobs (never a dry run) records its commit, config, versions and
# machine in {results}/logs/runs/ (hardpos.workflow.provenance): what a published result
# cites, part by part when a run was resumed. It also marks the folder as this config's
# (hardpos.workflow.results_folder).
onstart:
    record = record_run(config, workflow.basedir)
    print(f"Results folder: {config['results']} (this start's record: {record})")


include: "workflow/rules/common.smk"
include: "workflow/rules/inputs.smk"
# the stages both experiments run
include: "workflow/rules/attack.smk"
include: "workflow/rules/pass.smk"
include: "workflow/rules/trainset.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/evaluate.smk"


# the dataset's own stages and report (config key dataset, read once in common.smk); each
# report file lists its rules in REPORTS for `rule all`
if DATASET == "mnist":

    include: "workflow/rules/data.smk"
    include: "workflow/rules/train.smk"
    include: "workflow/rules/heldout.smk"
    include: "workflow/rules/robustness.smk"
    include: "workflow/rules/report.smk"

else:

    include: "workflow/rules/imagenet.smk"


# What `snakemake` makes when no target is named: every output of the report rules the
# dataset's rule files listed (their inputs ask for everything else). Snakemake takes a
# default target only from the Snakefile itself, not from an included file.
rule all:
    default_target: True
    input:
        [path for rule in REPORTS for path in rule.output],
