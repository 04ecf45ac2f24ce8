"""Figure 2: one test digit's adversarials and perturbations."""

from hardpos.logs import log_to_file
from hardpos.stages.reporting import write_figure2

with log_to_file(snakemake.log[0]):
    write_figure2(
        generated=snakemake.params.generated,
        dataset=snakemake.input.dataset,
        types=snakemake.params.types,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
