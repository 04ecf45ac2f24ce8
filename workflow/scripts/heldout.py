"""Sample the held-out adversarial test set from every base net's test-split adversarials."""

from hardpos.logs import log_to_file
from hardpos.stages.datasets import build_heldout

with log_to_file(snakemake.log[0]):
    build_heldout(
        generated=snakemake.params.generated,
        types=snakemake.params.types,
        per_type=snakemake.params.per_type,
        seed=snakemake.params.seed,
        out_set=snakemake.output.dataset,
        out_table=snakemake.output.table,
    )
