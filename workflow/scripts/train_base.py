"""Train one base LeNet; resumes from its checkpoint after a kill."""

from hardpos.logs import log_to_file
from hardpos.stages import set_threads, train_net

with log_to_file(snakemake.log[0]):
    set_threads(snakemake.threads)
    train_net(
        train_set=snakemake.input.train,
        test_set=snakemake.input.test,
        seed=snakemake.params.seed,
        iterations=snakemake.params.iterations,
        solver=snakemake.params.solver,
        checkpoint_every=snakemake.params.checkpoint_every,
        out_model=snakemake.output.model,
        checkpoint=snakemake.output.checkpoint,
        device=snakemake.params.device,
        meta={"role": "base"},
    )
