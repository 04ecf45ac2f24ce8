#!/usr/bin/env bash
# Snakemake runs this inside the new conda env (--sdm conda) from the workflow's folder:
# install the hardpos library from this checkout, without touching the pinned packages.
set -euo pipefail
python -m pip install --no-deps -e .
