"""What only the Snakemake workflow needs: config validation, which config a results folder
belongs to (results_folder), the layout (the path scheme, base nets and model ids, built
once from the config, with the MNIST/ImageNet choice), the job frame of every script (log
file, threads, GPU slot), logs and GPU slot leases; and the modules behind the make
targets around the workflow (plan, costs, slurm_sizing, background).

Imported by the Snakefile when the DAG is built, so nothing here imports torch at module
level (tests/test_dag_without_torch.py runs `snakemake -n` with it unimportable). May
import anything in the library.
"""
