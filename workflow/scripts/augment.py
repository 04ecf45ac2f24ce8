"""Generate the InfiMNIST-style deformed training images."""

from hardpos.mnist.deformations import generate_to_file
from hardpos.workflow.jobs import job

with job(snakemake):
    generate_to_file(
        snakemake.input.train,
        count=snakemake.params.images,
        seed=snakemake.params.seed,
        out=snakemake.output.dataset,
    )
