"""Check one split of the ImageFolder tree and write its index of files."""

from hardpos.jobs import job
from hardpos.stages.imagenet import index_split

with job(snakemake):
    index_split(
        snakemake.input.tree,
        snakemake.wildcards.split,
        resize=snakemake.params.resize,
        crop=snakemake.params.crop,
        out=snakemake.output.index,
    )
