# convzoo: the two commands of the README, and helpers.
#   make demo   set up .venv, then train + evaluate SEPC-lite RetinaNet on the embedded dataset, draw a picture
#   make test   set up .venv, then run the test suite
PY := .venv/bin/python
JOBS ?= 2

.PHONY: setup demo test benchmark clean-data

setup:
	@bash tools/setup_env.sh

demo: setup
	$(PY) tools/demo.py

test: setup
	$(PY) -m pytest -n $(JOBS) --dist loadfile -q tests

benchmark: setup
	$(PY) tools/benchmark.py

clean-data:
	rm -rf data/embedded
