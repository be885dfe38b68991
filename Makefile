# convzoo: the two commands of the README, and helpers.
#   make demo   set up .venv, then train + evaluate SEPC-lite RetinaNet on the embedded dataset, draw a picture
#   make test   set up .venv, then check the import contract and run the test suite (make test-fast: no
#               end-to-end runs)
PY := .venv/bin/python
JOBS ?= 2

.PHONY: setup demo test test-fast benchmark gpu-check clean-data

setup:
	@bash tools/setup_env.sh

demo: setup
	$(PY) tools/demo.py

test: setup
	.venv/bin/lint-imports --no-cache
	$(PY) -m pytest -n $(JOBS) --dist loadfile -q tests

test-fast: setup
	$(PY) -m pytest -n $(JOBS) --dist loadfile -q -m 'not e2e' tests

benchmark: setup
	$(PY) tools/benchmark.py

# on a CUDA machine: mmcv's CUDA ops, DCN kernel vs torch, every module on the GPU, the demo, latency (docs/gpu.md);
# without a GPU every row says "no GPU"
gpu-check: setup
	$(PY) tools/gpu_check.py

clean-data:
	rm -rf data/embedded
