"""What only the Snakemake workflow needs: config validation, the job frame of every
script (log file, threads, GPU slot), logs and GPU slot leases.

Imported by the Snakefile when the DAG is built, so nothing here imports torch at module
level. May import anything in the library.
"""
