# Everything a fresh machine needs: `make run` starts SpikeView, `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test demo bench installer clean

$(STAMP): pyproject.toml setup.py constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/spikeview $(ARGS)

demo: $(STAMP)
	$(BIN)/spikeview-engine train --dataset phantom2d --epochs 3 $(ARGS)

test: $(STAMP)
	bash scripts/test.sh $(ARGS)

installer: $(STAMP)
	$(BIN)/python installer/build.py $(ARGS)

bench: $(STAMP)
	$(BIN)/spikeview-engine bench $(ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info
