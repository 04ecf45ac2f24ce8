"""Check one MNIST split and save it as the workflow's dataset file."""

from hardpos.experiments.preparation import prepare_mnist
from hardpos.workflow.jobs import job

with job(snakemake):
    prepare_mnist(
        snakemake.params.mnist_dir,
        snakemake.wildcards.split,
        download=snakemake.params.download,
        out=snakemake.output.dataset,
    )
