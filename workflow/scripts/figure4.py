"""Figure 4 from the test-split adversarials of every base net."""

from hardpos.jobs import job
from hardpos.stages.reporting import write_figure4

with job(snakemake):
    write_figure4(
        scored=snakemake.input.scored,
        types=snakemake.params.types,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
