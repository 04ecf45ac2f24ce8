"""A model's error on the test split (MNIST: and on the held-out adversarial set)."""

from hardpos.experiments.evaluation import evaluate_model
from hardpos.workflow.jobs import job

meta = dict(snakemake.params.meta)
with job(snakemake):
    evaluate_model(
        model=snakemake.input.model,
        mnist_test=snakemake.input.test,
        heldout_set=snakemake.input.get("heldout"),
        heldout_table=snakemake.input.get("heldout_table"),
        parent_net=meta.pop("parent_net"),
        meta=meta,
        out=snakemake.output.metrics,
        device=snakemake.params.device,
        workers=snakemake.params.workers,
    )
