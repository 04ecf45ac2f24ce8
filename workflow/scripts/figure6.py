"""Figure 6: error against the PASS range of the fine-tuning data."""

from hardpos.logs import log_to_file
from hardpos.stages.reporting import write_figure6

with log_to_file(snakemake.log[0]):
    write_figure6(
        evaluations=snakemake.input.evaluations,
        buckets=snakemake.params.buckets,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
