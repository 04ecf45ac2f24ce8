"""Minimal adversarials and hard positives of one method family for one base net."""

from hardpos.logs import log_to_file
from hardpos.stages import set_threads
from hardpos.stages.generation import generate_adversarials

with log_to_file(snakemake.log[0]):
    set_threads(snakemake.threads)
    generate_adversarials(
        model=snakemake.input.model,
        dataset=snakemake.input.dataset,
        family=snakemake.wildcards.family,
        k=snakemake.params.k,
        factors=snakemake.params.factors,
        limit=snakemake.params.limit,
        net=int(snakemake.wildcards.net),
        out_images=snakemake.output.images,
        out_table=snakemake.output.table,
        batch_size=snakemake.params.batch_size,
        device=snakemake.params.device,
    )
