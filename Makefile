# tfxgate: `make run` runs the pipeline on the shipped sample, `make test` runs every test.
# Both create .venv (Python 3.10, with pip) and install the locked dependencies when needed.

PYTHON_VERSION := 3.10
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tfxgate-installed
# Airflow in a virtual environment of its own (requirements/airflow-lock.txt): it runs a project's
# DAG (runner_airflow.py), each stage in the project's .venv; it never imports TensorFlow or ours.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.airflow-installed
# uv resolves and installs the TFX stack in seconds where pip backtracks for minutes.
UV := python$(PYTHON_VERSION) -m uv

.PHONY: run test test-fast test-room bench docs install lock clean browser airflow airflow-lock

run: $(STAMP)
	$(PY) runner_local.py $(ARGS)

# Two pytest processes side by side: most of the suite is one pipeline process at a time, which
# leaves a core idle. BESIDE holds self-contained modules (their own servers, stores, projects and
# fixtures; none uses the session's `runs`), chosen so that the two take about as long: the
# Kubeflow harness, the resilience tests, Airflow's DAG runs, MariaDB's, the notebook API's own small
# project and ExampleGen on every input format. Its output follows the rest's.
# Either failing fails the target; a process whose selection (PYTEST_ARGS' -k or -m) collected
# nothing (5) does not. Only the first keeps a .pytest_cache: two would write the same files.
BESIDE := tests/test_kubeflow_harness.py tests/test_resilience.py tests/test_airflow.py tests/test_mysql.py tests/test_notebook_history.py tests/test_formats_parity.py
BESIDE_LOG := .test-beside.log
# Each process prints its slowest tests: where the suite's time goes, in CI's log too.
TEST_TIMES := --durations=30

test: $(STAMP) browser $(AIRFLOW_STAMP)
	@$(PY) -m pytest $(BESIDE) -p no:cacheprovider $(TEST_TIMES) $(PYTEST_ARGS) >$(BESIDE_LOG) 2>&1 & beside=$$!; \
	trap 'kill $$beside 2>/dev/null' INT TERM; \
	echo "tfxgate: $(BESIDE) run beside the rest; their output follows it"; \
	$(PY) -m pytest tests $(addprefix --ignore=,$(BESIDE)) $(TEST_TIMES) $(PYTEST_ARGS); rest=$$?; \
	wait $$beside; other=$$?; \
	echo "==== $(BESIDE) (run beside the rest) ===="; cat $(BESIDE_LOG); \
	for code in $$rest $$other; do case $$code in 0|5) ;; *) exit $$code;; esac; done; \
	[ $$rest = 0 ] || [ $$other = 0 ]

# The unit and component tiers alone (about two minutes): no full pipeline, Kubeflow or server.
test-fast: $(STAMP)
	$(PY) -m pytest tests -m "(unit or component) and not (pipeline or kubeflow or services)" $(PYTEST_ARGS)

# The tests of one room of core/ (docs/ARCHITECTURE.md): those whose module imports it, e.g.
# `make test-room ROOM=reading`. A first check after a change there, not a substitute for `make test`.
test-room: $(STAMP)
	@test -n "$(ROOM)" -a -d core/$(ROOM) || { echo "error: ROOM must name a folder of core/: $$(ls -d core/*/ | xargs -n1 basename | tr '\n' ' ')"; exit 2; }
	$(PY) -m pytest tests -m room_$(ROOM) $(PYTEST_ARGS)

# Benchmarks print figures and write docs/BENCHMARKS.md; never part of `make test`.
bench: $(STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

# The documentation site (mkdocs.yml; pages in docs/), built offline into outputs/site; open
# outputs/site/index.html. --strict: a broken link or anchor, or a page left out of the nav, fails.
# The command reference is generated from the parsers (scripts/docs_reference.py). mkdocs is pinned
# to 1.6 in the lock, so Material's notice about MkDocs 2.0 is silenced.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	@echo "tfxgate: the documentation site is in outputs/site/ (open outputs/site/index.html)"

# The report test renders HTML in headless Chromium (Debian's package; root installs it).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the report tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

install: $(STAMP)

$(STAMP): requirements/lock.txt requirements/datasets.txt setup.py
	@python$(PYTHON_VERSION) -m uv --version >/dev/null 2>&1 || python$(PYTHON_VERSION) -m pip install --quiet uv
	@test -x $(PY) || $(UV) venv --seed --python $(PYTHON_VERSION) $(VENV)
	$(UV) pip sync --quiet --python $(PY) requirements/lock.txt
	$(UV) pip install --quiet --python $(PY) --no-deps -r requirements/datasets.txt
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	@$(PY) -m pip --version >/dev/null || { echo "error: $(VENV) has no pip (TFX needs it to install module wheels)"; exit 1; }
	@touch $@

# Re-resolve the pinned stack after editing requirements/requirements.in.
lock:
	$(UV) pip compile --quiet --python-version $(PYTHON_VERSION) --python-platform x86_64-manylinux_2_28 \
		requirements/requirements.in -o requirements/lock.txt

# `make test` makes it too: tests/test_airflow.py runs DAGs with it.
airflow: $(AIRFLOW_STAMP)

$(AIRFLOW_STAMP): requirements/airflow-lock.txt
	@python$(PYTHON_VERSION) -m uv --version >/dev/null 2>&1 || python$(PYTHON_VERSION) -m pip install --quiet uv
	@test -x $(AIRFLOW_VENV)/bin/python || $(UV) venv --python $(PYTHON_VERSION) $(AIRFLOW_VENV)
	$(UV) pip sync --quiet --python $(AIRFLOW_VENV)/bin/python requirements/airflow-lock.txt
	@touch $@

airflow-lock:
	$(UV) pip compile --quiet --python-version $(PYTHON_VERSION) --python-platform x86_64-manylinux_2_28 \
		requirements/airflow.in -o requirements/airflow-lock.txt

clean:
	rm -rf outputs
