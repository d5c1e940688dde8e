# ferry: the few targets people expect. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
VENV_OK := $(VENV)/.installed
POLICY_DIR := target/policies

.PHONY: help test fmt-check clippy unit sandbox-test policy-lint template-lint sandbox build fmt clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

test: fmt-check clippy sandbox-test unit policy-lint template-lint ## every check: formatting, clippy, tests, policy and template lint

fmt-check: ## rustfmt, without changing files
	$(CARGO) fmt --all -- --check

clippy: ## clippy on every target, warnings are errors
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit: $(VENV_OK) ## the workspace's tests: units, handlers (aws-smithy-mocks), end to end in the sandbox
	$(CARGO) test --workspace --locked

# Python tools, pinned in requirements-dev.txt, in a venv of the repository's own.
$(VENV_OK): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

sandbox-test: $(VENV_OK) ## the sandbox's own unit tests (its policy evaluator)
	cd local && ../$(VENV)/bin/python -m unittest discover -s sandbox -t . -p 'test_*.py'

sandbox: $(VENV_OK) ## start the two-account sandbox and the function host; prints how to use it
	$(CARGO) run --quiet --locked -p ferry-local --example sandbox

# parliament on every policy ferry renders. A trust policy is a resource policy on the role and
# has no Resource element, which parliament (an identity-policy linter) reports; that one finding
# is dropped for trust policies only. Any other finding fails the check.
policy-lint: $(VENV_OK) ## parliament on every rendered policy
	rm -rf $(POLICY_DIR)
	@# `cargo test` builds the examples with the features the tests unify on; `cargo run
	@# --example` alone would compile the AWS SDK a second time with another feature set.
	$(CARGO) test --workspace --locked --no-run --quiet
	target/debug/examples/render_policies $(POLICY_DIR)
	@fail=0; for f in $(POLICY_DIR)/*.json; do \
	  out=$$($(VENV)/bin/parliament < $$f); \
	  case $$f in *-trust.json) out=$$(printf '%s\n' "$$out" | grep -v 'Statement contains neither Resource nor NotResource');; esac; \
	  if [ -n "$$out" ]; then echo "$$f:"; echo "$$out"; fail=1; fi; \
	done; \
	if [ $$fail = 0 ]; then echo "parliament: no findings in $$(ls $(POLICY_DIR) | wc -l) policies"; fi; \
	exit $$fail

# cfn-lint on the template; statelint on the state machine's definition, which cfn-lint does not
# look into (extracted with the sandbox's template reader; URI and FLOAT are ignored for the
# ${Substitutions} and BackoffRate).
template-lint: $(VENV_OK) ## cfn-lint on template.yaml, statelint on its state machine
	$(VENV)/bin/cfn-lint template.yaml
	mkdir -p target
	cd local && ../$(VENV)/bin/python -m sandbox.template ../template.yaml ../target/state-machine.json
	$(VENV)/bin/statelint --ignore=URI,FLOAT target/state-machine.json
	@echo "template: cfn-lint and statelint found nothing"

build: ## debug build of the workspace
	$(CARGO) build --workspace --locked

fmt: ## format the code
	$(CARGO) fmt --all

clean: ## remove build output and the venv
	$(CARGO) clean
	rm -rf $(VENV)
