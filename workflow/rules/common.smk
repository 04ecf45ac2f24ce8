# The workflow's layout, built once from the config (hardpos.workflow.layout): every path,
# base net and model a rule names comes from it, and so does the MNIST/ImageNet choice.

from hardpos.errors import HardposError
from hardpos.experiments.recipes import FAMILIES
from hardpos.workflow.layout import BASE_ID, FINETUNE_ID, INFIMNIST_ID, layout_from_config, one_of

try:
    LAYOUT = layout_from_config(config)
except HardposError as error:
    raise WorkflowError(f"config: {error}") from None

PATHS = LAYOUT.paths
# mnist or imagenet: which rule files the Snakefile includes, and so what `rule all` asks for
DATASET = LAYOUT.dataset


def dataset_script(rule):
    """The script of a shared rule whose stage differs by dataset (finetune, evaluate)."""
    return f"../scripts/{LAYOUT.scripts[rule]}"


def grows_on_retry(mem_mb):
    """``mem_mb`` on the first attempt, twice that on the second, ...: with ``--retries``
    (the SLURM profile sets it) a job killed for want of memory comes back with more."""
    return lambda wildcards, attempt: mem_mb * attempt
