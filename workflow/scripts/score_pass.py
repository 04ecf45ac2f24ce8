"""Add the PASS score to every row of a generated table."""

from hardpos.experiments.adversarials import score_pass
from hardpos.workflow.jobs import job

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
