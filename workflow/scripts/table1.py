"""Table 1: every model's errors, per recipe, beside the paper's figures."""

from hardpos.report.stage_outputs import write_tables
from hardpos.workflow.jobs import job

with job(snakemake):
    write_tables(
        evaluations=snakemake.input.evaluations,
        paper=snakemake.input.paper,
        recipe_order=snakemake.params.recipe_order,
        robustness=snakemake.input.get("robustness", []),
        outs=dict(snakemake.output.items()),
    )
