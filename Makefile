# The two commands a newcomer needs:  `make demo`  and  `make test`.
# Each creates .venv (if missing), installs the project and what it needs, then runs.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_INDEX ?=
PYPI_INDEX ?=
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test install clean-venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# Torch first. Where there is no CUDA, set TORCH_INDEX to PyTorch's CPU wheel index to get the
	@# small CPU build (machines with a local CPU wheel, such as our CI, get it without that).
	$(BIN)/python -m pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX) --extra-index-url $(PYPI_INDEX),)
	$(BIN)/python -m pip install --quiet -e ".[dev,eval,train,video]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@echo 'the demo lands with the synthetic-scene generator; for now:' && $(BIN)/loc3r --help

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

clean-venv:
	rm -rf $(VENV)
