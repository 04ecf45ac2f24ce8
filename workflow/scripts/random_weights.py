"""Randomly initialised weights (last layer fitted to the training crops) for smoke runs."""

from hardpos.jobs import job
from hardpos.stages.imagenet import random_weights

with job(snakemake):
    random_weights(
        arch=snakemake.wildcards.net,
        train_index=snakemake.input.index,
        out=snakemake.output.weights,
        seed=snakemake.params.seed,
        device=snakemake.params.device,
    )
