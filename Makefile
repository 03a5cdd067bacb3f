# Two commands on a fresh machine:  make demo   (lab node: audit, harden, audit again)
#                                   make test   (every lint, unit test and scenario)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
LAB := python3 lab/nodelab.py
REPORTS ?= nodeguard-reports
# Debian packages the lab and the tests need, as command:package.
SYSTEM_TOOLS := qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils mmdebstrap:mmdebstrap \
	vde_switch:vde2 mkfs.ext4:e2fsprogs ssh:openssh-client git:git chromium:chromium chromedriver:chromium-driver
export PATH := $(BIN):$(PATH)

TIMES := $(CURDIR)/.stage-times
TIMED := $(CURDIR)/tests/timed.sh

.PHONY: help deps venv lint sanity unit labtest docs collection molecule test demo bench lab-up lab-status lab-down build clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

deps: ## install the Debian packages of the lab (qemu, mmdebstrap, vde2) and Chromium for the report test
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v "$${pair%%:*}" >/dev/null || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "installing$$missing"; \
	  $$sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.installed ## create the pinned Python environment
$(VENV)/.installed: requirements/dev.txt requirements/constraints.txt cli/pyproject.toml tools/fetch_junit_schemas.py
	python3 -m venv $(VENV)
	$(BIN)/pip install -q -c requirements/constraints.txt -r requirements/dev.txt
	$(BIN)/pip install -q --no-deps -e ./cli
	$(BIN)/python tools/fetch_junit_schemas.py $(VENV)/share/junit-schemas
	mkdir -p .collections/ansible_collections/nodeguard
	ln -sfn ../../.. .collections/ansible_collections/nodeguard/hardening
	touch $@

lint: venv ## ansible-lint (production profile), yamllint, ruff
	ansible-lint
	yamllint -s .
	ruff check .
	ruff format --check .

sanity: venv ## ansible-test sanity on a staged copy, empty ignore file
	test ! -s tests/sanity/ignore-2.19.txt
	tests/sanity/run.sh

docs: venv ## write the README's tables of controls from the catalogs
	python tools/controls_table.py

unit: deps venv ## unit tests of module_utils, modules and filters, the fleet command line (its page in Chromium)
	pytest tests/unit -q

labtest: deps venv build ## the lab on real VMs: caller's terminal and pipes untouched; images and recipes
	$(LAB) build --image debian12-containerd --image debian13-containerd
	pytest tests/lab -q

collection: venv ## build the collection tarball and install it in .build/collections
	rm -rf .build && mkdir -p .build
	ansible-galaxy collection build --output-path .build .
	ANSIBLE_COLLECTIONS_PATH=.build/collections ansible-galaxy collection install --offline --force \
	  -p .build/collections .build/nodeguard-hardening-*.tar.gz

build: deps venv ## build (or reuse) the lab's node image
	$(LAB) build

molecule: deps venv build collection ## every Molecule scenario on lab VMs, with the built collection
	trap '$(LAB) down --prefix molecule- >/dev/null' EXIT; \
	for scenario in $$(ls molecule); do \
	  $(TIMED) "molecule $$scenario" molecule test -s "$$scenario"; \
	done

test: deps venv ## everything: lint, unit, sanity, the lab, every Molecule scenario; times at the end
	: > $(TIMES)
	export NODEGUARD_TIMES=$(TIMES); \
	trap 'echo; echo "time per stage and scenario:"; cat $(TIMES)' EXIT; \
	for stage in lint unit sanity labtest molecule; do \
	  $(TIMED) "$$stage" $(MAKE) --no-print-directory $$stage; \
	done
	@if pgrep -af '[n]odelab-(molecule-|stdio-test|fixture-test)'; then echo "lab VMs were left running"; exit 1; fi
	@echo "all tests passed"

demo: deps venv build ## boot a lab node, audit it, harden it, audit again, summarise
	rm -rf $(REPORTS)
	trap '[ -n "$${KEEP:-}" ] || $(LAB) down --name demo' EXIT; \
	inv=$$($(LAB) up --name demo --nodes $${NODES:-1} --operator); \
	NODEGUARD_REPORT_DIR=$(CURDIR)/$(REPORTS)/before ansible-playbook -i $$inv playbooks/audit.yml; \
	NODEGUARD_REPORT_DIR=$(CURDIR)/$(REPORTS)/harden ansible-playbook -i $$inv playbooks/harden.yml; \
	NODEGUARD_REPORT_DIR=$(CURDIR)/$(REPORTS)/after ansible-playbook -i $$inv playbooks/audit.yml; \
	python3 lab/summary.py $(REPORTS)/before $(REPORTS)/after

bench: deps venv build ## wall time and module calls per node, converge and re-run
	python3 tests/benchmark/converge.py --nodes $${NODES:-1}

lab-up: deps venv build ## boot a lab (NAME=default NODES=1) and print its inventory
	$(LAB) up --name $${NAME:-default} --nodes $${NODES:-1}

lab-status: ## show labs and whether their nodes answer
	$(LAB) status

lab-down: ## stop a lab (NAME=default) or all of them (ALL=1)
	if [ -n "$${ALL:-}" ]; then $(LAB) down --all; else $(LAB) down --name $${NAME:-default}; fi

clean: ## remove the Python environment, staged collections and reports
	rm -rf $(VENV) .collections .ansible .build tests/output $(REPORTS)
