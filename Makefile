# `make run` starts the daemon on the example menu; `make test` runs the tests.
# Both build .venv first. On a fresh Debian they install the system packages
# they need with apt-get (as root); otherwise they say which are missing.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# command:package pairs the test suite runs (sound conversion, unit file check, scale-out test, API on PostgreSQL)
TEST_TOOLS := ffmpeg:ffmpeg ffprobe:ffmpeg systemd-analyze:systemd haproxy:haproxy /usr/lib/postgresql/15/bin/initdb:postgresql
# Another apt (unattended upgrades, a second job) may hold the lock: wait up to 10 minutes for it.
# The timeout covers dpkg's lock; `update` takes the lists lock, so it is retried while that is held.
APT := DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600
APT_UPDATE := for try in $$(seq 60); do $(APT) update -qq && break; \
  [ $$try = 60 ] && exit 1; echo "apt-get update failed (another apt holds the lock?); retrying in 10 s"; sleep 10; done

DURATION ?= 600
RATE ?= 100

.PHONY: run test chaos soak venv system-test-tools clean

run: $(VENV)/.installed
	$(BIN)/ivrflow serve --config config/example.yaml --sounds config/sounds

test: $(VENV)/.installed-test system-test-tools
	$(BIN)/python -m pytest

# 10,000 emulated calls with faults, reloads and a drain (the test suite runs a short form).
chaos: $(VENV)/.installed-test
	PYTHONPATH=tests $(BIN)/python -m chaos.run --calls 10000

# The load generator at RATE calls/s for DURATION seconds; latency and RSS per minute.
soak: $(VENV)/.installed
	$(BIN)/python bench/soak.py --duration $(DURATION) --rate $(RATE)

venv: $(VENV)/.installed

system-test-tools:
	@missing=""; for pair in $(TEST_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || case " $$missing " in *" $${pair#*:} "*) ;; *) missing="$$missing $${pair#*:}";; esac; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing with apt-get"; \
	    $(APT_UPDATE); $(APT) install -y -qq $$missing >/dev/null; \
	  else echo "the tests need these Debian packages:$$missing (apt-get install them as root)"; exit 1; fi; \
	fi

$(VENV)/bin/python:
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "python3-venv is missing; installing it with apt-get"; \
	  $(APT_UPDATE); $(APT) install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

clean:
	rm -rf $(VENV)
