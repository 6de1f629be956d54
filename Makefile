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
	@# Java runs pycocoevalcap's PTB tokenizer and METEOR (ScanQA scoring).
	@command -v java >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless) ; } || \
	  echo "warning: no Java; install openjdk-17-jre-headless for METEOR / PTB tokenization"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/loc3r demo --out demo_out

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

clean-venv:
	rm -rf $(VENV)
