"""Table 1: every model's errors, per recipe, beside the paper's figures."""

from hardpos.logs import log_to_file
from hardpos.stages.reporting import write_tables

with log_to_file(snakemake.log[0]):
    write_tables(
        evaluations=snakemake.input.evaluations,
        paper=snakemake.input.paper,
        recipe_order=snakemake.params.recipe_order,
        outs=dict(snakemake.output.items()),
    )
