"""Figure 5 from the test-split adversarials of every base net."""

from hardpos.logs import log_to_file
from hardpos.stages.reporting import write_figure5

with log_to_file(snakemake.log[0]):
    write_figure5(scored=snakemake.input.scored, out_png=snakemake.output.png, out_pdf=snakemake.output.pdf)
