# lytte: `make demo` runs the command center on an embedded Kafka and Redis; `make test` runs every test.
# Both set up everything on a fresh Debian machine: Debian packages, the virtual environment, the Kafka jars.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DEMO_PACKAGES := redis-server
TEST_PACKAGES := redis-server chromium chromium-driver

.PHONY: demo test faults bench bench-wall soak lint format venv kafka-jars demo-packages test-packages clean

demo: demo-packages kafka-jars
	$(BIN)/lytte up

test: test-packages kafka-jars
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The fault suite: kill -9, rebalances, broker and Redis restarts, hostile input; exact counts after each.
# One case: make faults CASE=kill9 (exact case name; several: CASE=kill9,fuzz).
faults: demo-packages kafka-jars
	$(BIN)/python -m pytest tests/faults $(if $(CASE),--case=$(CASE))

# The benchmark (mixed, hot-brand and steady runs): make bench ARGS="--modes mixed --profile /tmp/bench-profile".
bench: demo-packages kafka-jars
	$(BIN)/lytte bench $(ARGS)

# The wall in headless Chromium: Redis-to-screen latency, browser memory under a speed-up, server CPU per screen.
bench-wall: test-packages kafka-jars
	$(BIN)/python -m streams.bench.wall $(ARGS)

# Does the worker's state stay flat once the stream outlasts the state horizon? (24 min; exit 1 if not)
soak: demo-packages kafka-jars
	$(BIN)/lytte soak

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $@

# Apache Kafka's jars from Maven Central into ~/.cache/lytte (once; needs Java 17+ and Maven).
kafka-jars: venv
	$(BIN)/lytte kafka fetch

demo-packages:
	@$(MAKE) --no-print-directory debian-packages PACKAGES="$(DEMO_PACKAGES)"

test-packages:
	@$(MAKE) --no-print-directory debian-packages PACKAGES="$(TEST_PACKAGES)"

debian-packages:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

clean:
	rm -rf .lytte .pytest_cache .ruff_cache
