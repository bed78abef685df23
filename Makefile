# Two commands for a newcomer: `make run` and `make test`. Only python3 and make are needed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
VAFA   := $(VENV)/bin/vafa
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test demo lint types migrate-check lock clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Starts the API with the worker in-process on SQLite (vafa.db in this directory).
# The first run generates the key that encrypts stored credentials into .vafa-secret-key.
run: $(VENV)/.installed
	@test -s .vafa-secret-key || $(VAFA) secret-key > .vafa-secret-key
	@chmod 600 .vafa-secret-key
	VAFA_SECRET_KEY=$$(cat .vafa-secret-key) $(VAFA) migrate
	VAFA_SECRET_KEY=$$(cat .vafa-secret-key) $(VAFA) serve --host $(HOST) --port $(PORT)

# The whole loop against the fake Shopify and WooCommerce (tests/fakes): earn, redeem, a code on
# each store, the balance written back. Its own SQLite database in a temporary directory.
demo: $(VENV)/.dev-installed
	$(PY) -m tests.fakes.demo

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

types: $(VENV)/.dev-installed
	$(PY) -m mypy --strict app

# alembic upgrade head on an empty database of the configured engine, then alembic check.
migrate-check: $(VENV)/.dev-installed
	$(PY) -m tests.migration_check

test: lint types migrate-check
	$(PY) -m pytest

# Pins every runtime and build dependency, with hashes, into requirements.lock (what the Docker
# image installs). Run it after changing the dependencies in pyproject.toml, and commit the lock.
lock: $(VENV)/.installed
	$(PY) -m pip install --quiet uv
	$(PY) -m uv pip compile pyproject.toml --group build --universal --python-version 3.11 \
		--generate-hashes --quiet --output-file requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
