"""Check one MNIST split and save it as the workflow's dataset file."""

from hardpos.logs import log_to_file
from hardpos.stages.data import prepare_mnist

with log_to_file(snakemake.log[0]):
    prepare_mnist(
        snakemake.params.mnist_dir,
        snakemake.wildcards.split,
        download=snakemake.params.download,
        out=snakemake.output.dataset,
    )
