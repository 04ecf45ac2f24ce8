"""Fine-tune an ImageNet base network on the training crops plus one recipe's images."""

from hardpos.experiments.training_stages import finetune_classifier
from hardpos.workflow.jobs import job

with job(snakemake):
    finetune_classifier(
        train_index=snakemake.input.train,
        added=[snakemake.input.added],
        init=snakemake.input.init,
        seed=snakemake.params.seed,
        iterations=snakemake.params.iterations,
        solver=snakemake.params.solver,
        checkpoint_every=snakemake.params.checkpoint_every,
        checkpoint=snakemake.params.checkpoint,
        extra_fraction=snakemake.params.extra_fraction,
        out_model=snakemake.output.model,
        out_solver=snakemake.output.solver,
        workers=snakemake.params.workers,
        device=snakemake.params.device,
        meta={"rule": snakemake.rule},
    )
