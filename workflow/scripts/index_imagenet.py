"""Check one split of the ImageFolder tree and write its index of files."""

from hardpos.experiments.preparation import index_split
from hardpos.workflow.jobs import job

with job(snakemake):
    index_split(
        snakemake.input.tree,
        snakemake.wildcards.split,
        resize=snakemake.params.resize,
        crop=snakemake.params.crop,
        out=snakemake.output.index,
    )
