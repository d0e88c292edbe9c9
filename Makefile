# The README's two commands. Both create .venv and install what they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench-quick clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/daekit demo --out runs/demo

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

bench-quick: $(STAMP)
	$(PY) bench/trainer_overhead.py --quick
	$(PY) bench/mnist.py --quick

clean:
	rm -rf $(VENV) runs build src/*.egg-info .pytest_cache
