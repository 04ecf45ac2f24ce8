"""The correctly classified training crops (N per class) a network attacks."""

from hardpos.experiments.adversarials import select_images
from hardpos.workflow.jobs import job

with job(snakemake):
    select_images(
        model=snakemake.input.model,
        index=snakemake.input.index,
        per_class=snakemake.params.per_class,
        out=snakemake.output.dataset,
        batch_size=snakemake.params.batch_size,
        workers=snakemake.params.workers,
        device=snakemake.params.device,
    )
