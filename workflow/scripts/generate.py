"""Minimal adversarials and hard positives of one method family for one base net."""

from hardpos.experiments.adversarials import generate_adversarials
from hardpos.workflow.jobs import job

with job(snakemake):
    generate_adversarials(
        model=snakemake.input.model,
        dataset=snakemake.input.dataset,
        family=snakemake.wildcards.family,
        k=snakemake.params.k,
        factors=snakemake.params.factors,
        limit=snakemake.params.limit,
        draw=snakemake.params.draw,
        net=snakemake.params.net,
        out_images=snakemake.output.images,
        out_table=snakemake.output.table,
        batch_size=snakemake.params.batch_size,
        device=snakemake.params.device,
    )
