"""Load an ImageNet network's weights, check them against the data, save the base model."""

from hardpos.experiments.preparation import import_model
from hardpos.workflow.jobs import job

with job(snakemake):
    import_model(
        arch=snakemake.wildcards.net,
        weights=snakemake.params.weights,
        train_index=snakemake.input.index,
        out=snakemake.output.model,
    )
