"""Figure 3: adversarials and x10 perturbations of one crop per ImageNet network."""

from hardpos.report.stage_outputs import write_figure3
from hardpos.workflow.jobs import job

with job(snakemake):
    write_figure3(
        generated=snakemake.params.generated,
        datasets=snakemake.params.datasets,
        types=snakemake.params.types,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
