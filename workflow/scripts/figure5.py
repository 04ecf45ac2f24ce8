"""Figure 5 from the test-split adversarials of every base net."""

from hardpos.jobs import job
from hardpos.stages.reporting import write_figure5

with job(snakemake):
    write_figure5(
        scored=snakemake.input.scored,
        types=snakemake.params.types,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
