# The two commands of the quick start: `make run` and `make test`. Each sets itself up first.
VENV ?= .venv

.PHONY: setup run demo-judge test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt scripts/setup.sh
	VENV=$(VENV) scripts/setup.sh

RUN_DIR ?= runs/cpu-demo

run: setup
	$(VENV)/bin/selfmine run --run-dir $(RUN_DIR)

demo-judge: setup
	$(VENV)/bin/selfmine judge examples/add.py --tests examples/add_tests.py
	-$(VENV)/bin/selfmine judge examples/fake_exit.py --tests examples/add_tests.py

test: setup lint
	$(VENV)/bin/python -m pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

bench: setup
	$(VENV)/bin/python benchmarks/judge_throughput.py
	$(VENV)/bin/python benchmarks/generation_throughput.py
	$(VENV)/bin/python benchmarks/train_speed.py --pairs 20

clean:
	rm -rf $(VENV) build *.egg-info
