# The two commands of the quick start: `make run` and `make test`. Each sets itself up first.
VENV ?= .venv

.PHONY: setup setup-vllm test-vllm run demo-judge test lint bench check-results clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt scripts/setup.sh
	VENV=$(VENV) scripts/setup.sh

RUN_DIR ?= runs/cpu-demo

# vLLM on the CPU in its own environment (vLLM pins transformers below ours): `make setup-vllm`, then
# `.venv-vllm/bin/selfmine ... --set engine.backend=vllm`; `make test-vllm` runs its tests there.
setup-vllm: .venv-vllm/.installed

.venv-vllm/.installed: pyproject.toml constraints.txt constraints-vllm.txt scripts/setup.sh
	VENV=.venv-vllm VLLM_CPU=1 scripts/setup.sh

test-vllm: setup-vllm
	export $$(.venv-vllm/bin/python -m selfmine.engine.vllm_cpu) && \
	  SELFMINE_REQUIRE_VLLM=1 .venv-vllm/bin/python -m pytest -q tests/test_vllm.py

run: setup
	$(VENV)/bin/selfmine run --run-dir $(RUN_DIR)

demo-judge: setup
	$(VENV)/bin/selfmine judge examples/add.py --tests examples/add_tests.py
	-$(VENV)/bin/selfmine judge examples/fake_exit.py --tests examples/add_tests.py

# The judge's own tests run a second time under the `unshare` sandbox where the machine offers it (the first
# run takes the strongest mode here, bubblewrap where setup could install it).
JUDGE_TESTS = tests/test_sandbox.py tests/test_judge_attacks.py tests/test_judge_fidelity.py

test: setup lint
	$(VENV)/bin/python -m pytest -q --durations=20
	@if $(VENV)/bin/python -c "from selfmine.sandbox.isolation import best_launcher; best_launcher('unshare')" 2>/dev/null; then \
	  echo "judge tests again, under unshare:"; SELFMINE_ISOLATION=unshare $(VENV)/bin/python -m pytest -q $(JUDGE_TESTS); \
	else echo "unshare is not available here: the judge tests ran once"; fi

# Every committed sample under results/ scored again against its committed verdict (CI checks a fixed
# sample of tasks from each file; this checks all of them, minutes per arm).
check-results: setup
	SELFMINE_ALL_RESULTS=1 $(VENV)/bin/python -m pytest -q tests/test_results.py

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

bench: setup
	$(VENV)/bin/python benchmarks/judge_throughput.py
	$(VENV)/bin/python benchmarks/generation_throughput.py
	$(VENV)/bin/python benchmarks/train_speed.py --pairs 20

clean:
	rm -rf $(VENV) build *.egg-info
