# Thin entry points; the work is done by scripts/ and the `labs` command.
# Every target that needs the environment runs setup first (it is quick when nothing changed).
SHELL := /bin/bash
LABS := .venv/bin/labs

.DEFAULT_GOAL := help
.PHONY: help setup stack-up stack-down stack-status doctor lab instructor release grade test verify-lab verify-labs mutate bench bench-labs lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: ## create .venv, install the package, fetch the JVM stack from Maven Central, install MariaDB if missing
	@bash scripts/setup.sh

stack-up: setup ## start Kafka, Connect + Debezium, MariaDB, the schema registry and Spark Connect
	@$(LABS) stack up

stack-down: ## stop what stack-up started
	@if [ -x $(LABS) ]; then $(LABS) stack down; fi

stack-status: ## what runs where
	@$(LABS) stack status

doctor: setup ## check the machine and name the fix for each problem
	@$(LABS) doctor

lab: stack-up ## open JupyterLab on the student notebooks (release/)
	@.venv/bin/jupyter lab --ip=127.0.0.1 --notebook-dir=release $(if $(filter 0,$(shell id -u)),--allow-root)

instructor: stack-up ## JupyterLab at the course root, with nbgrader's formgrader (menu Nbgrader > Formgrader)
	@.venv/bin/jupyter lab --ip=127.0.0.1 --notebook-dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

release: setup ## generate release/ from source/ with nbgrader
	@$(LABS) release

# the demo class `make grade` writes when submitted/ is empty: the warm-up's hostile submissions and
# the four ordinary ones of the first lab (a few minutes); `labs demo-class` with no name writes every lab's
DEMO ?= s0_warmup s1_batch_vs_stream

grade: stack-up ## grade every submission in submitted/ (on a fresh clone, a demo class of the warm-up and S1; DEMO="..." names others)
	@$(LABS) release
	@if [ -z "$$(ls -A submitted 2>/dev/null)" ]; then $(LABS) demo-class $(DEMO); fi
	@$(LABS) grade

test: ## the full test run: setup, stack up, pytest, stack down (what CI runs)
	@bash scripts/test.sh

verify-lab: stack-up ## full discrimination of one lab (every recorded variant), recorded when it passes: make verify-lab LAB=c1_cdc_debezium
	@test -n "$(LAB)" || { echo "name the lab: make verify-lab LAB=<assignment>   (make verify-labs for all)"; exit 2; }
	@$(LABS) verify $(LAB)

verify-labs: stack-up ## full discrimination of every lab whose record does not match its files (ALL=1: every lab)
	@$(LABS) verify $(if $(ALL),--all,--stale)

mutate: stack-up ## mutation testing of one lab's hidden tests: make mutate LAB=c2_exactly_once_payments [BUDGET=60]
	@test -n "$(LAB)" || { echo "name the lab: make mutate LAB=<assignment> [BUDGET=60]"; exit 2; }
	@$(LABS) mutate $(LAB) $(if $(BUDGET),--budget $(BUDGET))

bench-labs: stack-up ## each lab's solution and stub run time and its slowest cells
	@$(LABS) bench labs

bench: setup ## print the stack's start times, memory and Spark session time
	@$(LABS) bench stack

lint: setup ## ruff over the package and tests
	@.venv/bin/ruff check labs tests

clean: stack-down ## remove everything generated (stack data, logs, jars, .venv)
	rm -rf var .venv autograded/*.csv autograded/*.html
