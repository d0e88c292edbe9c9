# The README's two commands. Both create .venv and install what they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BROWSER := $(VENV)/.browser

.PHONY: demo test install bench-quick clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/daekit demo --out runs/demo

# Debian's chromium + chromedriver for the browser test of `daekit serve`; where they cannot be
# installed (no root, no apt) the test is skipped and says why.
$(BROWSER): $(STAMP)
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make test: installing Debian chromium + chromium-driver for the browser test"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
	  || (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1) \
	  || echo "make test: could not install chromium; the browser test will be skipped"; \
	else echo "make test: no chromium and no root apt-get; the browser test will be skipped"; fi
	@touch $@

test: $(STAMP) $(BROWSER)
	$(PY) -m pytest -n 2 --dist loadfile

bench-quick: $(STAMP)
	$(PY) bench/trainer_overhead.py --quick
	$(PY) bench/mnist.py --quick

clean:
	rm -rf $(VENV) runs build src/*.egg-info .pytest_cache
