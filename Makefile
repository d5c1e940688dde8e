# ferry: the few targets people expect. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo

.PHONY: help test fmt-check clippy unit build fmt clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

test: fmt-check clippy unit ## every check: formatting, clippy -D warnings, the workspace's tests

fmt-check: ## rustfmt, without changing files
	$(CARGO) fmt --all -- --check

clippy: ## clippy on every target, warnings are errors
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit: ## the workspace's tests (ferry-core's unit and property tests)
	$(CARGO) test --workspace --locked

build: ## debug build of the workspace
	$(CARGO) build --workspace --locked

fmt: ## format the code
	$(CARGO) fmt --all

clean: ## remove build output
	$(CARGO) clean
