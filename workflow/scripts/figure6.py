"""Figure 6: error against the PASS range of the fine-tuning data."""

from hardpos.report.stage_outputs import write_figure6
from hardpos.workflow.jobs import job

with job(snakemake):
    write_figure6(
        evaluations=snakemake.input.evaluations,
        buckets=snakemake.params.buckets,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
