"""Add the PASS score to every row of a generated table."""

from hardpos.jobs import job
from hardpos.stages.generation import score_pass

with job(snakemake):
    score_pass(
        images=snakemake.input.images,
        table=snakemake.input.table,
        dataset=snakemake.input.dataset,
        out_table=snakemake.output.table,
        backend=snakemake.params.backend,
        batch_size=snakemake.params.batch_size,
        device=snakemake.params.device,
    )
