"""A LeNet's error on MNIST test and on the held-out adversarial set."""

from hardpos.experiments.evaluation import evaluate_model
from hardpos.workflow.jobs import job

meta = dict(snakemake.params.meta)
with job(snakemake):
    evaluate_model(
        model=snakemake.input.model,
        mnist_test=snakemake.input.test,
        heldout_set=snakemake.input.heldout,
        heldout_table=snakemake.input.heldout_table,
        parent_net=meta.pop("parent_net"),
        meta=meta,
        out=snakemake.output.metrics,
        device=snakemake.params.device,
    )
