"""The section 5.3 table: top-1 / top-5 error and the change per added image."""

from hardpos.report.stage_outputs import write_imagenet_table
from hardpos.workflow.jobs import job

with job(snakemake):
    write_imagenet_table(
        evaluations=snakemake.input.evaluations,
        out_csv=snakemake.output.csv,
        out_md=snakemake.output.md,
    )
