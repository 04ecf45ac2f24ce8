"""Train a LeNet: a base net, a fine-tuning run (input `init`) or the augmentation baseline."""

from hardpos.experiments.training_stages import train_net
from hardpos.workflow.jobs import job

inputs = dict(snakemake.input.items())
with job(snakemake):
    train_net(
        train_sets=[inputs["train"], *[inputs[k] for k in ("added", "augmented") if k in inputs]],
        test_set=inputs["test"],
        seed=snakemake.params.seed,
        iterations=snakemake.params.iterations,
        solver=snakemake.params.solver,
        checkpoint_every=snakemake.params.checkpoint_every,
        checkpoint=snakemake.params.checkpoint,
        init=inputs.get("init"),
        extra_fraction=snakemake.params.extra_fraction,
        out_model=snakemake.output.model,
        out_solver=snakemake.output.solver,
        device=snakemake.params.device,
        meta={"rule": snakemake.rule},
        objective=getattr(snakemake.params, "objective", None),
    )
