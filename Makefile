# Two entry points on a fresh Debian machine: `make run` and `make test`. Both install what they need, idempotently.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_DEBS := softhsm2 opensc python3-venv espeak-ng
TEST_DEBS := $(RUN_DEBS) chromium baresip sip-tester kamailio iproute2 util-linux sox coturn nginx
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test e2e lint debs-run debs-test venv clean-demo

debs-run:
	@missing=$$(for p in $(RUN_DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

debs-test:
	@missing=$$(for p in $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

$(VENV)/.installed: pyproject.toml constraints.txt
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

venv: $(VENV)/.installed

run: debs-run venv
	$(PY) -m agent_desktop.demo

# The suite runs in a network namespace that holds only loopback (DESIGN.md §5): no test packet can leave the
# machine, and WebRTC/RTP tests see 127.0.0.1 as their only address. Root (CI) uses `unshare -n`; others map
# themselves to root in a user namespace first.
NETNS := $(shell [ "$$(id -u)" = 0 ] && echo "unshare -n" || echo "unshare -rn")

test: debs-test venv
	$(VENV)/bin/ruff check .
	$(NETNS) sh -c 'ip link set lo up && exec $(VENV)/bin/pytest -q -ra $(PYTEST_ARGS)'

# The e2e journeys in Chromium. Without URL: against the suite's own demo, in the loopback-only namespace.
# With URL: against a desk of one's own (a test or acceptance desk), from this machine's network:
#   make e2e URL=https://desk.example.be E2E_PIN=1234 E2E_SIP=sip:1700@desk.example.be:5060 \
#            E2E_PKCS11_MODULE=/usr/lib/x86_64-linux-gnu/libbeidpkcs11.so.0 E2E_TOKEN_LABEL=BELPIC
# (see e2e/conftest.py). Traces of every test and screenshots of failures go to E2E_ARTIFACTS.
URL ?=
E2E_ARTIFACTS ?= test-artifacts/e2e-$(shell date +%Y%m%d-%H%M%S)
E2E_TESTS ?= e2e
e2e: debs-test venv
	@mkdir -p $(E2E_ARTIFACTS)
	@echo "e2e artefacts (Playwright traces, screenshots of failures): $(abspath $(E2E_ARTIFACTS))"
ifeq ($(strip $(URL)),)
	$(NETNS) sh -c 'ip link set lo up && exec env E2E_ARTIFACTS=$(abspath $(E2E_ARTIFACTS)) $(VENV)/bin/pytest -q -ra $(E2E_TESTS) $(PYTEST_ARGS)'
else
	E2E_URL='$(URL)' E2E_ARTIFACTS='$(abspath $(E2E_ARTIFACTS))' $(VENV)/bin/pytest -q -ra $(E2E_TESTS) $(PYTEST_ARGS)
endif

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean-demo:
	rm -rf var/demo var/desk.db var/desk.db-wal var/desk.db-shm var/kb.db var/recordings
