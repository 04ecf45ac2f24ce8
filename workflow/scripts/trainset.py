"""One recipe's fine-tuning images for one base net."""

from hardpos.experiments.trainsets import build_trainset
from hardpos.workflow.jobs import job

# MNIST's base nets are numbered, ImageNet's named (googlenet, resnet152)
net = snakemake.wildcards.net
net = int(net) if net.isdigit() else net
with job(snakemake):
    build_trainset(
        recipe=snakemake.params.recipe,
        net=net,
        images=snakemake.input.get("images"),
        table=snakemake.input.get("table"),
        out=snakemake.output.dataset,
    )
