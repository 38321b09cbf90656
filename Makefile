# The two commands a new user needs are `make demo` and `make test`; both set themselves up.
SHELL := /bin/bash
NODE_BIN := $(shell scripts/ensure-node.sh)
export PATH := $(NODE_BIN):$(PATH)
CP_BIN = $(shell bash test/controlplane/build.sh 2>/dev/null | tail -1)

.PHONY: setup build typecheck lint test test-unit test-cluster test-e2e demo kubectl deploy e2e-kind shellcheck clean

setup:
	@bash scripts/setup.sh

build: setup
	npm run build

typecheck: setup
	npm run typecheck

lint: setup
	npm run lint

## test: everything CI runs: type check, lint, unit tests, real-control-plane tests, end to end.
test: setup shellcheck
	npm run typecheck
	npm run lint
	npm run build
	SAMPLESOURCE_CP_BIN=$(CP_BIN) npm test -- --ci
	SAMPLESOURCE_CP_BIN=$(CP_BIN) npm run test:e2e -- --ci

test-unit: setup
	npm test -- --selectProjects unit

test-cluster: setup
	SAMPLESOURCE_CP_BIN=$(CP_BIN) npm test -- --selectProjects cluster

test-e2e: build
	SAMPLESOURCE_CP_BIN=$(CP_BIN) npm run test:e2e

## demo: a local control plane (and, as the project grows, the whole system) in one command.
demo: build
	SAMPLESOURCE_CP_BIN=$(CP_BIN) node dist/scripts/demo.js

## deploy: images built and loaded into a kind cluster, config/ applied (needs docker, kind, kubectl).
deploy:
	bash scripts/kind-deploy.sh

## e2e-kind: the end-to-end suite against that kind cluster.
e2e-kind: setup
	bash scripts/kind-e2e.sh

## shellcheck: lints the project's shell scripts (installs Debian's shellcheck when missing).
shellcheck:
	command -v shellcheck >/dev/null || (apt-get update -qq && apt-get install -y -qq shellcheck)
	shellcheck scripts/*.sh test/controlplane/*.sh test/node/*.sh .ci/run

## kubectl: prints the path of the kubectl built from the same Kubernetes version as the server.
kubectl: setup
	@echo $(CP_BIN)/kubectl

clean:
	rm -rf dist coverage .tmp
