"""Sample the held-out adversarial test set from every base net's test-split adversarials."""

from hardpos.experiments.trainsets import build_heldout
from hardpos.workflow.jobs import job

with job(snakemake):
    build_heldout(
        generated=snakemake.params.generated,
        types=snakemake.params.types,
        per_type=snakemake.params.per_type,
        seed=snakemake.params.seed,
        allow_fewer=snakemake.params.allow_fewer,
        out_set=snakemake.output.dataset,
        out_table=snakemake.output.table,
    )
