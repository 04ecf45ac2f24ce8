"""Check one MNIST split and save it as the workflow's dataset file."""

from hardpos.jobs import job
from hardpos.stages.data import prepare_mnist

with job(snakemake):
    prepare_mnist(
        snakemake.params.mnist_dir,
        snakemake.wildcards.split,
        download=snakemake.params.download,
        out=snakemake.output.dataset,
    )
