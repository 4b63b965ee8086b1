# Two entry points (see README): `make demo` and `make test`. Both set up .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
NEURON_AT := --at w0=2 --at x0=-1 --at w1=-3 --at x1=-2 --at w2=-3
# the settings tests/runtime/test_sample_accuracy.py checks (>= 97% test accuracy)
DIGITS_TRAIN := --epochs 20 --lr 0.003 --batch-size 16 --seed 0
# the suite runs on this many processes (pytest-xdist), each test module on one of them
# so that its module-wide fixtures (one compiled model per family) are built once
TEST_WORKERS ?= 2

.PHONY: demo test setup clean

$(BIN)/adc: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(BIN)/adc

setup: $(BIN)/adc

demo: $(BIN)/adc
	@echo "== derivative formulas of the course's sigmoid neuron (samples/neuron.py)"
	$(BIN)/adc inspect samples/neuron.py --show formulas
	@echo "== the generated module: the forward pass, then the backward pass, in one Numba kernel"
	$(BIN)/adc compile samples/neuron.py -o build/neuron_adc.py
	sed -n '/^def _f_vjp_kernel/,/^    return/p' build/neuron_adc.py
	@echo "== forward vs reverse mode: what each costs for this model"
	$(BIN)/adc inspect samples/neuron.py --show cost
	@echo "== the computational graph with its numbers: each node's value and, in red, its gradient (written to build/neuron_graph.dot)"
	$(BIN)/adc inspect samples/neuron.py --show graph $(NEURON_AT) -o build/neuron_graph.dot
	grep -o '<b>[a-z0-9]*</b><br/>[^<]*<br/><font color="#c0392b">grad [^<]*' build/neuron_graph.dot | sed 's/<[^>]*>/ /g'
	@echo "== value, gradient, JVP and HVP check at the course's point (value 0.73; grads -0.20 0.39 -0.39 -0.59 0.20)"
	$(BIN)/adc check samples/neuron.py $(NEURON_AT)
	@echo "== train an MLP on scikit-learn's 8x8 digits: compile, train (progress bar), test accuracy, plot"
	$(BIN)/adc train samples/digits_mlp.py --data digits $(DIGITS_TRAIN) --out build/digits_mlp

test: $(BIN)/adc
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope

clean:
	rm -rf $(VENV) build .pytest_cache
