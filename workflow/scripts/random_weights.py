"""Randomly initialised weights (last layer fitted to the training crops) for smoke runs."""

from hardpos.experiments.preparation import random_weights
from hardpos.workflow.jobs import job

with job(snakemake):
    random_weights(
        arch=snakemake.wildcards.net,
        train_index=snakemake.input.index,
        out=snakemake.output.weights,
        seed=snakemake.params.seed,
        device=snakemake.params.device,
    )
