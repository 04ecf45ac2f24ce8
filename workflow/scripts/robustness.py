"""Robust accuracy at each L-inf budget and minimal norms of one model (adv-lib)."""

from hardpos.workflow.jobs import job

with job(snakemake):
    # imported inside the job: a failing import (adv-lib, torch) then says why in the log
    from hardpos.robustness.record import write_robustness

    write_robustness(
        model=snakemake.input.model,
        test_set=snakemake.input.test,
        out=snakemake.output.record,
        images=snakemake.params.images,
        budgets=snakemake.params.linf,
        attack=snakemake.params.attack,
        min_norm=snakemake.params.min_norm,
        batch_size=snakemake.params.batch_size,
        seed=snakemake.params.seed,
        device=snakemake.params.device,
        meta=snakemake.params.meta,
    )
