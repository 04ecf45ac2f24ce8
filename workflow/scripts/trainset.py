"""One recipe's fine-tuning images for one base net."""

from hardpos.jobs import job
from hardpos.stages.datasets import build_trainset

with job(snakemake):
    build_trainset(
        recipe=snakemake.params.recipe,
        net=int(snakemake.wildcards.net),
        images=snakemake.input.get("images"),
        table=snakemake.input.get("table"),
        out=snakemake.output.dataset,
    )
