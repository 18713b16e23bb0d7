# Two commands set everything up on a fresh Debian machine with Python 3.11:
#   make run    - installs what is missing, then starts the viewer with the bundled model and sample image
#   make test   - installs what is missing, then runs the whole test suite
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test deps system-deps bench clean

$(STAMP): pyproject.toml scripts/install.sh
	bash scripts/install.sh
	touch $(STAMP)

deps: $(STAMP)

run: $(STAMP)
	bash scripts/run-app.sh

test: $(STAMP)
	bash scripts/run-tests.sh

bench: $(STAMP)
	$(VENV)/bin/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
