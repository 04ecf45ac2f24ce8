"""A tiny synthetic ImageFolder tree for smoke runs (config imagenet.synthetic)."""

from hardpos.jobs import job
from hardpos.stages.imagenet import make_synthetic_imagenet

spec = dict(snakemake.params.spec)
with job(snakemake):
    make_synthetic_imagenet(snakemake.output.tree, **spec)
