"""A tiny synthetic ImageFolder tree for smoke runs (config imagenet.synthetic)."""

from hardpos.imagenet.synthetic import make_synthetic_imagenet
from hardpos.workflow.jobs import job

spec = dict(snakemake.params.spec)
with job(snakemake):
    make_synthetic_imagenet(snakemake.output.tree, **spec)
