"""An ImageNet network's top-1 and top-5 error on the validation crops."""

from hardpos.experiments.evaluation import evaluate_classifier
from hardpos.workflow.jobs import job

meta = dict(snakemake.params.meta)
meta.pop("parent_net")  # no held-out set on ImageNet
with job(snakemake):
    evaluate_classifier(
        model=snakemake.input.model,
        index=snakemake.input.test,
        out=snakemake.output.metrics,
        meta=meta,
        batch_size=snakemake.params.batch_size,
        workers=snakemake.params.workers,
        device=snakemake.params.device,
    )
