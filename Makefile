# The two set-up commands: `make run` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A portable CPU build of llama.cpp: the native build enables AMX kernels that crash on CPUs
# (and VMs) whose AMX tile state the kernel does not enable; AVX2 runs everywhere we test.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DLLAMA_BUILD_TESTS=OFF \
	-DLLAMA_BUILD_EXAMPLES=OFF

.PHONY: run test lint types unit bench clean install

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip wheel
	@echo ">> installing securellm and its dependencies into $(VENV)"
	@echo ">> the first time, llama-cpp-python compiles llama.cpp (5-10 min on 2 cores); later runs reuse it"
	@CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --progress-bar on -e '.[dev,local,tokens]' 2>&1 \
		| grep -v -e 'is ignored: it is neither' -e '^  Downloading' -e '^Processing ' || true
	@$(BIN)/python -c 'import llama_cpp, securellm' || (echo "installation failed" >&2; exit 1)
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/securellm up

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint types unit

bench: $(STAMP)
	$(BIN)/python benchmarks/gateway_overhead.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
