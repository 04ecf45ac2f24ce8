"""Equal-sized fine-tuning sets by PASS range for one base net (Figure 6)."""

from hardpos.experiments.trainsets import build_buckets
from hardpos.workflow.jobs import job

buckets = snakemake.params.buckets
with job(snakemake):
    build_buckets(
        net=snakemake.params.net,
        images=snakemake.input.images,
        table=snakemake.input.table,
        method=buckets["method"],
        k=buckets["k"],
        factors=buckets["factors"],
        edges=buckets["edges"],
        per_bucket=buckets["per_bucket"],
        seed=buckets["seed"],
        allow_fewer=buckets.get("allow_fewer", False),
        outs=dict(snakemake.output.items()),
    )
