"""One recipe's fine-tuning images for one base net."""

from hardpos.logs import log_to_file
from hardpos.stages.datasets import build_trainset

with log_to_file(snakemake.log[0]):
    build_trainset(
        recipe=snakemake.params.recipe,
        net=int(snakemake.wildcards.net),
        images=snakemake.input.get("images"),
        table=snakemake.input.get("table"),
        out=snakemake.output.dataset,
    )
