"""Train several LeNets in one stacked job: the orderings of one (recipe, base net)."""

from hardpos.experiments.training_stages import train_nets
from hardpos.workflow.jobs import job

with job(snakemake):
    train_nets(
        train_sets=[snakemake.input.train, snakemake.input.added],
        test_set=snakemake.input.test,
        seeds=snakemake.params.seeds,
        iterations=snakemake.params.iterations,
        solver=snakemake.params.solver,
        checkpoint_every=snakemake.params.checkpoint_every,
        checkpoint=snakemake.params.checkpoint,
        init=snakemake.input.init,
        extra_fraction=snakemake.params.extra_fraction,
        out_models=list(snakemake.output.models),
        out_solvers=list(snakemake.output.solvers),
        device=snakemake.params.device,
        compile_step=snakemake.params.compile_step,
        meta={"rule": snakemake.rule},
    )
