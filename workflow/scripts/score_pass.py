"""Add the PASS score to every row of a generated table."""

from hardpos.logs import log_to_file
from hardpos.stages import set_threads
from hardpos.stages.generation import score_pass

with log_to_file(snakemake.log[0]):
    set_threads(snakemake.threads)
    score_pass(
        images=snakemake.input.images,
        table=snakemake.input.table,
        dataset=snakemake.input.dataset,
        out_table=snakemake.output.table,
        backend=snakemake.params.backend,
        batch_size=snakemake.params.batch_size,
        device=snakemake.params.device,
    )
