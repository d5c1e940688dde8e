# ferry: the few targets people expect. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
VENV_OK := $(VENV)/.installed
# checkov pins its own boto3, which moto's does not match: a venv of its own.
CHECKOV_VENV := .venv-checkov
# The workspace as the checks build it: with the CLI's sandbox demo (`ferry demo`), which the
# CLI as installed leaves out; one feature set for clippy and every test build, so that none
# rebuilds what another built.
WORKSPACE_FEATURES := --features ferry-cli/demo
CHECKOV_OK := $(CHECKOV_VENV)/.installed
POLICY_DIR := target/policies
# awscli, for the copy worker's benchmark only (its botocore pin is not moto's).
BENCH_VENV := .venv-bench
BENCH_OK := $(BENCH_VENV)/.installed

.PHONY: tools static-checks faults bench-init bench-streams bench-sandbox bench-worker help demo test fmt-check clippy unit sandbox-test policy-lint differential mutations template-lint checkov sandbox build package e2e-aws fmt clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

# A whole cross-account copy in the sandbox: flow A on 48 sample objects, verified. DEMO_ARGS
# passes options: `make demo DEMO_ARGS="--flow csv --objects 200"`.
demo: $(VENV_OK) ## a whole cross-account copy in the sandbox, with a progress bar, verified
	$(LINTED) $(CARGO) build --quiet --locked -p ferry-cli --features demo
	target/debug/ferry demo $(DEMO_ARGS)

# Every check, in the order that keeps both cores busy: the Python and Node tools install while
# the workspace compiles (one compilation, linted by clippy as it goes), and the checks that need
# no sandbox run while the tests wait on theirs. Each part's output is printed whole, and a
# failing part fails `make test`.
test: ## every check: formatting, clippy, tests, policy lint, the evaluator against its oracle, template lint, checkov
	$(MAKE) --no-print-directory fmt-check
	@mkdir -p target
	@echo "the Python and Node tools install while the workspace compiles (live: target/tools.log)"
	@$(MAKE) --no-print-directory -j3 tools > target/tools.log 2>&1 & tools=$$!; \
	  $(MAKE) --no-print-directory clippy; built=$$?; \
	  wait $$tools; installed=$$?; cat target/tools.log; \
	  [ $$built = 0 ] && [ $$installed = 0 ]
	@echo "the static checks run beside the tests; their output follows (live: target/static-checks.log)"
	@$(MAKE) --no-print-directory static-checks > target/static-checks.log 2>&1 & checks=$$!; \
	  $(MAKE) --no-print-directory unit; tested=$$?; \
	  wait $$checks; checked=$$?; cat target/static-checks.log; \
	  [ $$tested = 0 ] && [ $$checked = 0 ]

tools: $(VENV_OK) $(CHECKOV_OK) $(ORACLE_OK) ## install the Python and Node tools the checks use (venvs, the oracle's node_modules)

static-checks: sandbox-test policy-lint differential template-lint checkov ## every check but the Rust build and tests

fmt-check: ## rustfmt, without changing files
	$(CARGO) fmt --all -- --check

# clippy on the build the tests run: clippy's driver compiles ferry's own crates (cargo hands it
# the workspace's members only) and lints them as it compiles them, warnings are errors, so the
# AWS SDK is compiled once, not checked for clippy and then compiled again for the tests
# (`cargo clippy` is the same driver on a `cargo check`). Every command below that builds the
# workspace runs with this environment, so none of them compiles ferry's crates again. The canary
# first proves that the driver turns warnings into errors with these arguments.
CLIPPY_DRIVER = $(shell rustup which clippy-driver 2>/dev/null || command -v clippy-driver)
CLIPPY_ARGS := -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
LINTED = RUSTC_WORKSPACE_WRAPPER=$(CLIPPY_DRIVER) CLIPPY_ARGS=$(CLIPPY_ARGS)
TEST_BUILD = $(LINTED) $(CARGO) test --workspace --locked $(WORKSPACE_FEATURES)
# The end-to-end tests mostly wait on their sandbox's copies (each sandbox forked in about 50 ms
# from the test process's fork server): eight at a time keep two cores busy.
TEST_THREADS ?= 8

clippy: ## build every target, linted by clippy as it compiles (warnings are errors)
	@mkdir -p target
	@if CLIPPY_ARGS=$(CLIPPY_ARGS) $(CLIPPY_DRIVER) rustc --edition 2021 --crate-type lib --emit=metadata \
	  -o target/clippy-canary.rmeta local/lint/clippy_canary.rs 2> target/clippy-canary.log \
	  || ! grep -q "error: unneeded .return. statement" target/clippy-canary.log; then \
	  cat target/clippy-canary.log; \
	  echo "clippy's driver did not fail local/lint/clippy_canary.rs on needless_return: the build would not be linted"; exit 1; fi
	$(TEST_BUILD) --all-targets --no-run
	@# The default targets too (the examples as the policy checks run them): every later build of
	@# `make test` finds everything built.
	$(TEST_BUILD) --no-run --quiet

# ferry-tests' suite (every end-to-end test but the CLI's, about three minutes) runs beside the
# other test binaries (units, handlers, the CLI against its sandboxes); its output follows theirs.
unit: $(VENV_OK) ## the workspace's tests: units, handlers (aws-smithy-mocks), end to end in the sandbox
	@mkdir -p target
	@echo "ferry-tests' suite runs beside the other test binaries; its output follows theirs (live: target/suite.log)"
	@$(TEST_BUILD) --test suite -- --test-threads=$(TEST_THREADS) > target/suite.log 2>&1 & suite=$$!; \
	  $(TEST_BUILD) --all-targets --exclude ferry-tests -- --test-threads=$(TEST_THREADS); others=$$?; \
	  wait $$suite; passed=$$?; cat target/suite.log; \
	  [ $$others = 0 ] && [ $$passed = 0 ]

# Python tools, pinned in requirements-dev.txt, in a venv of the repository's own. `--no-compile`:
# a module's bytecode is written when it is first imported, not for every installed file (about
# 40% of the install's time here).
$(VENV_OK): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --no-compile --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(BENCH_OK): requirements-bench.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

# Not part of `make test` (tests never assert timings): docs/src/contributing/benchmarks.md.
faults: $(VENV_OK) ## the whole fault matrix (make test runs a sample of it): one fault at one call of one step, per cell
	FERRY_FAULT_MATRIX=all $(TEST_BUILD) --test suite faults:: -- --nocapture

bench-init: $(VENV_OK) ## cold start against a mock Runtime API: ferry, with jitter entropy, bare lambda_runtime, Python/boto3
	bash local/bench/init.sh $(or $(BENCH_RUNS),20)

bench-streams: $(BENCH_OK) ## the streaming readers against DuckDB (1 and 2 threads) and Python csv on 5,000,000 rows
	bash local/bench/streams.sh $(or $(BENCH_ROWS),5000000) 3

bench-sandbox: $(VENV_OK) ## the sandbox's Batch Operations in tasks/s: a demo of BENCH_OBJECTS (1000) objects in each flow
	$(LINTED) bash local/bench/sandbox.sh $(or $(BENCH_OBJECTS),1000) csv
	$(LINTED) bash local/bench/sandbox.sh $(or $(BENCH_OBJECTS),1000) inventory

bench-worker: $(VENV_OK) $(BENCH_OK) ## the copy worker and `aws s3 cp` copying one large object on a local S3 server
	@# The worker moves no byte itself (every part is copied by the server): a debug build, the
	@# one the tests use, measures it as well and compiles nothing twice.
	$(TEST_BUILD) --no-run --quiet
	bash local/bench/worker.sh $(BENCH_MIB)

sandbox-test: $(VENV_OK) ## the sandbox's own unit tests (its policy evaluator)
	cd local && ../$(VENV)/bin/python -m unittest discover -s sandbox -t . -p 'test_*.py'

sandbox: $(VENV_OK) ## start the two-account sandbox and the function host; prints how to use it
	$(LINTED) $(CARGO) run --quiet --locked -p ferry-local --example sandbox

# parliament on every policy ferry writes: the ones ferry-core renders at run time and the
# template's inline policies (resolved for the sandbox's two accounts). A finding fails the check
# unless local/lint/policies.py accepts it for that file, with its reason.
policy-lint: $(VENV_OK) ## parliament on every rendered policy and every inline policy of the template
	rm -rf $(POLICY_DIR) target/template-policies
	@# `cargo test` builds the examples with the features the tests unify on; `cargo run
	@# --example` alone would compile the AWS SDK a second time with another feature set.
	$(TEST_BUILD) --no-run --quiet
	target/debug/examples/render_policies $(POLICY_DIR)
	cd local && ../$(VENV)/bin/python -m sandbox.template --policies ../template.yaml ../target/template-policies
	cd local && ../$(VENV)/bin/python -m lint.policies ../$(POLICY_DIR) ../target/template-policies

# The test-time IAM oracle, @cloud-copilot/iam-simulate (AGPL-3.0: run by the tests only, never
# imported by ferry's code or shipped), installed from its lock file like the Python tools.
ORACLE := local/oracle
ORACLE_OK := $(ORACLE)/node_modules/.installed

$(ORACLE_OK): $(ORACLE)/package.json $(ORACLE)/package-lock.json
	cd $(ORACLE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The sandbox's IAM evaluator against the oracle on every policy ferry renders, every inline
# policy of the template and documented real-world bucket policies (with mutations), crossed with
# every action ferry and S3 Batch Operations perform. Fails on a disagreement that
# local/oracle/known-differences.json does not list with its reason.
differential: $(VENV_OK) $(ORACLE_OK) ## the sandbox's IAM evaluator against an independent simulator (thousands of cases)
	$(TEST_BUILD) --no-run --quiet
	rm -rf $(POLICY_DIR) && target/debug/examples/render_policies $(POLICY_DIR)
	cd local && ../$(VENV)/bin/python -m oracle.differential ../$(POLICY_DIR) ../template.yaml

# Every action of every role the template gives ferry's functions, taken out one at a time in a
# fresh sandbox: some end-to-end scenario must then fail with AccessDenied naming that role and
# that action. Not in `make test` (one sandbox per mutation, about ten minutes).
mutations: $(VENV_OK) ## remove each action of each function role in turn; a scenario must fail naming it
	$(TEST_BUILD) --test suite mutations:: -- --ignored --nocapture

# cfn-lint on the template; statelint on the state machine's definition, which cfn-lint does not
# look into (extracted with the sandbox's template reader; URI and FLOAT are ignored for the
# ${Substitutions} and BackoffRate).
template-lint: $(VENV_OK) ## cfn-lint on template.yaml, statelint on its state machine
	$(VENV)/bin/cfn-lint template.yaml
	mkdir -p target
	cd local && ../$(VENV)/bin/python -m sandbox.template ../template.yaml ../target/state-machine.json
	$(VENV)/bin/statelint --ignore=URI,FLOAT target/state-machine.json
	@echo "template: cfn-lint and statelint found nothing"

$(CHECKOV_OK): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --no-compile --disable-pip-version-check -r requirements-checkov.txt
	touch $@

# Skipped checks and their reasons: .ci/checkov.yaml.
checkov: $(CHECKOV_OK) ## checkov on template.yaml (offline), skip list in .ci/checkov.yaml
	$(CHECKOV_VENV)/bin/checkov --config-file .ci/checkov.yaml -f template.yaml

# Lambda packages: cargo-lambda and its zig from a venv of their own, arm64 (Graviton), release
# with thin LTO. Needs Rust's aarch64-unknown-linux-gnu standard library (`rustup target add
# aarch64-unknown-linux-gnu`), which is why it is not part of `make test`. Zips in
# target/lambda/<function>/bootstrap.zip.
PACKAGE_VENV := .venv-package
PACKAGE_OK := $(PACKAGE_VENV)/.installed
FUNCTIONS := $(sort $(patsubst functions/%/,ferry-%,$(wildcard functions/*/)))

$(PACKAGE_OK): requirements-package.txt
	$(PYTHON) -m venv $(PACKAGE_VENV)
	$(PACKAGE_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-package.txt
	touch $@

package: $(PACKAGE_OK) ## arm64 Lambda zips of every function with cargo-lambda (not in make test)
	@rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu || { \
	  echo "make package needs Rust's arm64 standard library: rustup target add aarch64-unknown-linux-gnu"; exit 2; }
	PATH="$(CURDIR)/$(PACKAGE_VENV)/bin:$$PATH" $(CARGO) lambda build --release --arm64 --locked \
	  --output-format zip $(addprefix -p ,$(FUNCTIONS))
	@for f in $(FUNCTIONS); do ls -l target/lambda/$$f/bootstrap.zip | awk '{printf "%-28s %8.1f KiB\n", "'$$f'", $$5/1024}'; done

# Both stacks deployed in two real accounts, flows A and B on generated objects, verified, torn
# down. Opt-in, never in CI: see docs/src/deploy.md.
e2e-aws: ## the end-to-end copy on two real AWS accounts (SOURCE_PROFILE, DESTINATION_PROFILE)
	bash .ci/e2e-aws

build: ## debug build of the workspace
	$(LINTED) $(CARGO) build --workspace --locked $(WORKSPACE_FEATURES)

fmt: ## format the code
	$(CARGO) fmt --all

clean: ## remove build output and the venvs
	$(CARGO) clean
	rm -rf $(VENV) $(CHECKOV_VENV) $(PACKAGE_VENV) $(ORACLE)/node_modules
