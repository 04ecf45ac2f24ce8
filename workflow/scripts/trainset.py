"""One recipe's fine-tuning images for one base net."""

from hardpos.experiments.trainsets import build_trainset
from hardpos.workflow.jobs import job

with job(snakemake):
    build_trainset(
        recipe=snakemake.params.recipe,
        net=snakemake.params.net,
        images=snakemake.input.get("images"),
        table=snakemake.input.get("table"),
        out=snakemake.output.dataset,
    )
