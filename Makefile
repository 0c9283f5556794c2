# The two commands of the quick start: `make run` and `make test`. Each sets itself up first.
VENV ?= .venv
DATA_DIR ?= $(abspath ../shared/data)
export SELFMINE_DATA_DIR ?= $(DATA_DIR)

.PHONY: setup run test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt scripts/setup.sh
	VENV=$(VENV) scripts/setup.sh

run: setup
	$(VENV)/bin/selfmine judge examples/add.py --tests examples/add_tests.py
	-$(VENV)/bin/selfmine judge examples/fake_exit.py --tests examples/add_tests.py

test: setup
	$(VENV)/bin/python -m pytest -q

bench: setup
	$(VENV)/bin/python benchmarks/judge_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info
