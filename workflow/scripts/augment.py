"""Generate the InfiMNIST-style deformed training images."""

from hardpos.augment import generate_to_file
from hardpos.jobs import job

with job(snakemake):
    generate_to_file(
        snakemake.input.train,
        count=snakemake.params.images,
        seed=snakemake.params.seed,
        out=snakemake.output.dataset,
    )
