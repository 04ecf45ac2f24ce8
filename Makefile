# Two commands do all the set-up on a fresh machine:
#   make run   -- the workflow on config/config.yaml (extra snakemake arguments in ARGS);
#                 it prints `make plan` first: jobs per rule and the expected hours
#   make test  -- the test suite
# Both create .venv with pip if it is missing and install the project into it.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=
CORES ?= $(shell nproc 2>/dev/null || echo 1)
PYTEST_ARGS ?=
STAMP := $(VENV)/.hardpos-installed

.PHONY: plan run continue background unlock test lint format costs publish slurm-sizing bench test-slurm clean-results

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet --build-constraint envs/build-constraints.txt -e '.[dev,workflow,report]'
	@touch $@

PLAN := $(BIN)/python -m hardpos.workflow.plan --cores $(CORES) --snakemake $(BIN)/snakemake

# What a run would do, without running it: the config's results folder, jobs per rule,
# CPU-hours and wall time on $(CORES) cores, GPU-hours on one CUDA device
# (src/hardpos/workflow/plan.py).
# With FROM=<published folder>: what `make continue` has left (the folder is checked and
# the results folder seeded first).
FROM ?=
plan: $(STAMP)
	@$(PLAN) $(if $(FROM),--from $(FROM),--suggest) $(ARGS)

# The workflow, then its HTML report (report.html in the config's results folder: every
# table and figure with captions; written beside it and renamed, so a killed report leaves
# the earlier one whole).
# The plan comes first (with the config's results folder: each config has its own, config
# key results); it never stops the run (no prompt: scripts can call make run).
# A directory still locked by a killed run stops Snakemake with its own message; the hint
# after it names the way out (Snakemake's locks are never deleted behind the user's back).
run: $(STAMP)
	@$(PLAN) --suggest $(ARGS) || { test $$? -ne 3 || exit 2; \
	  echo "make run: no plan (see above); running anyway"; }
	@$(BIN)/snakemake --cores $(CORES) --resources gpu=2 --rerun-incomplete $(ARGS) || { status=$$?; \
	  if ls .snakemake/locks/*.lock >/dev/null 2>&1; then echo "hint: if no other Snakemake \
	runs in this directory (from any machine), the lock is a killed run's: make unlock" >&2; \
	  fi; exit $$status; }
	@case " $(ARGS) " in *" -n "*|*" --dry-run "*|*" --dryrun "*) ;; \
	  *) $(BIN)/snakemake --cores 1 $(ARGS) --report $(RESULTS)/.report.tmp.html && \
	     mv -f $(RESULTS)/.report.tmp.html $(RESULTS)/report.html ;; esac

# A run kept in a published folder, continued (or extended with new recipes) on any
# machine: checks FROM against its SHA256SUMS, seeds the results folder from it, runs only
# what is missing (shared stages, then one base net at a time) and writes each finished
# record back into FROM (src/hardpos/workflow/continuation.py). A new FROM starts a run.
#   make continue FROM=docs/results/paper ARGS="--configfile config/config.yaml config/paper-rows.yaml"
continue: $(STAMP)
	@test -n "$(FROM)" || { echo "make continue: name the published folder, e.g. FROM=docs/results/paper" >&2; exit 2; }
	@$(BIN)/python -m hardpos.workflow.continuation --from $(FROM) --cores $(CORES) \
	  --snakemake $(BIN)/snakemake $(ARGS)

# make run in the background for a long run beside other work: a session of its own (it
# outlives the terminal), nice 19 and that session's autogroup at nice 19 (where Linux
# groups processes by session, nice alone ranks a process only within its own session:
# README, "Long runs"). Output is appended to LOG; the same command resumes a killed run.
# JOB=continue (with FROM) does the same for make continue.
LOG ?= run.log
JOB ?= run
background: $(STAMP)
	@$(BIN)/python -m hardpos.workflow.background --log $(LOG) -- \
	  $(MAKE) --no-print-directory -o $(STAMP) $(JOB) ARGS="$(ARGS)" CORES=$(CORES) VENV=$(VENV) FROM="$(FROM)"

# After a killed run Snakemake refuses a locked directory (its message says so): this
# removes the lock. Run it only when no other Snakemake runs in this directory.
unlock: $(STAMP)
	$(BIN)/snakemake --unlock $(ARGS)

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

# snakefmt reads its line length (100, as ruff's) from pyproject.toml
SNAKEFILES := Snakefile workflow/rules

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check $(SNAKEFILES)
	$(BIN)/snakemake --lint --configfile config/smoke.yaml
	$(BIN)/snakemake --lint --configfile config/imagenet-smoke.yaml

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt $(SNAKEFILES)

# A real one-node SLURM cluster on this machine (needs root and apt-get): install and start
# it (tests/slurm/cluster.sh), run the tests marked slurm against it, then stop every daemon
# it started, whether the tests passed or not.
test-slurm: $(STAMP)
	@status=0; tests/slurm/cluster.sh start && \
	  HARDPOS_SLURM_TEST=1 $(BIN)/pytest -m slurm $(PYTEST_ARGS) || status=$$?; \
	  tests/slurm/cluster.sh stop; exit $$status

# What each stage of a finished (or partial) run cost, from its benchmark: files:
# make costs ARGS="--configfile config/mini.yaml" (the folder of the config in ARGS: each
# config has its own, config key results) or make costs RESULTS=/path/to/results
RESULTS ?= $(shell $(BIN)/python -m hardpos.workflow.run_config results $(ARGS))
costs: $(STAMP)
	@$(BIN)/python -m hardpos.workflow.costs $(RESULTS)

# A finished run made into a folder the repository can hold: Table 1 with today's
# statistics, the figures, every model's records, each start's commit and config, the
# costs (src/hardpos/workflow/publish.py). An unfinished run is refused unless
# PUBLISH_ARGS=--partial: make publish RESULTS=results/paper OUT=docs/results/paper (or
# ARGS="--configfile ..." for the folder of that config)
OUT ?=
PUBLISH_ARGS ?=
publish: $(STAMP)
	@test -n "$(OUT)" || { echo "make publish: name the folder, e.g. OUT=docs/results/paper" >&2; exit 2; }
	@$(BIN)/python -m hardpos.workflow.publish $(RESULTS) --out $(OUT) $(PUBLISH_ARGS)

# SLURM runtime and mem_mb per rule for the paper config, from a measured run's benchmark
# files: make slurm-sizing MEASURED="--configfile config/mini.yaml --config results=DIR"
MEASURED ?= --configfile config/mini.yaml
slurm-sizing: $(STAMP)
	@$(BIN)/python -m hardpos.workflow.slurm_sizing --snakemake $(BIN)/snakemake \
	  --measured "$(MEASURED)" $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/train_lenet.py

clean-results:
	rm -rf results .snakemake
