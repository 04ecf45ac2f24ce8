"""Figure 2: one test digit's adversarials and perturbations."""

from hardpos.report.stage_outputs import write_figure2
from hardpos.workflow.jobs import job

with job(snakemake):
    write_figure2(
        generated=snakemake.params.generated,
        dataset=snakemake.input.dataset,
        types=snakemake.params.types,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
