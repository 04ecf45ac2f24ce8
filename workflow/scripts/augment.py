"""Generate the InfiMNIST-style deformed training images."""

from hardpos.augment import generate_to_file
from hardpos.logs import log_to_file

with log_to_file(snakemake.log[0]):
    generate_to_file(
        snakemake.input.train,
        count=snakemake.params.images,
        seed=snakemake.params.seed,
        out=snakemake.output.dataset,
    )
