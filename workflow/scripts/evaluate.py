"""Error rates of one model on the MNIST test set (and the held-out set when given)."""

from hardpos.logs import log_to_file
from hardpos.stages import evaluate_model, set_threads

with log_to_file(snakemake.log[0]):
    set_threads(snakemake.threads)
    evaluate_model(
        model=snakemake.input.model,
        datasets={name: path for name, path in snakemake.input.items() if name != "model"},
        out=snakemake.output.metrics,
        device=snakemake.params.device,
    )
