"""Figure 3: adversarials and x10 perturbations of one crop per ImageNet network."""

from hardpos.jobs import job
from hardpos.stages.imagenet import write_figure3

with job(snakemake):
    write_figure3(
        generated=snakemake.params.generated,
        datasets=snakemake.params.datasets,
        types=snakemake.params.types,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
