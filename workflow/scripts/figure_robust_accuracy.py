"""Robust accuracy against the L-inf budget, one line per recipe (beyond the paper)."""

from hardpos.robustness.figure import plot_robust_accuracy
from hardpos.robustness.record import load_records
from hardpos.workflow.jobs import job

with job(snakemake):
    plot_robust_accuracy(
        load_records(snakemake.input.records),
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
        recipe_order=snakemake.params.recipe_order,
    )
