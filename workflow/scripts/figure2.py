"""Figure 2: one test digit's adversarials and perturbations."""

from hardpos.jobs import job
from hardpos.stages.reporting import write_figure2

with job(snakemake):
    write_figure2(
        generated=snakemake.params.generated,
        dataset=snakemake.input.dataset,
        types=snakemake.params.types,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
