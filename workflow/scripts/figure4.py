"""Figure 4 from the test-split adversarials of every base net."""

from hardpos.report.stage_outputs import write_figure4
from hardpos.workflow.jobs import job

with job(snakemake):
    write_figure4(
        scored=snakemake.input.scored,
        types=snakemake.params.types,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
