# Two commands set everything up on a fresh machine:
#   make demo   the whole DAG on built-in generated data, on CPU, in minutes -> results/demo/
#   make test   the test suite
#   make report the HTML report of the paper run (snakemake --report) -> results/report/report.html
VENV ?= .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
CORES ?= 2

.PHONY: demo test bench dag report demo-report clean-demo mutate

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[workflow,dev]"
	touch $@

demo: $(VENV)/.installed
	$(SNAKEMAKE) --configfile config/demo.yaml --cores $(CORES) --rerun-incomplete
	@echo "demo table: results/demo/tables/3diebench.csv"; cat results/demo/tables/3diebench.csv
	@echo "demo table: results/demo/tables/stl10_pls.csv"
	@$(PY) -c "from seqjepa_core.tables import read_table, to_markdown; print(to_markdown(read_table('results/demo/tables/stl10_pls.csv')))"
	@for t in cifar100 tinyimagenet; do echo "demo table: results/demo/tables/$$t.csv (its demo rows)"; \
	  $(PY) -c "import sys; from seqjepa_core.tables import read_table, to_markdown; \
	  print(to_markdown(read_table(sys.argv[1]).query('n_seeds > 0')))" results/demo/tables/$$t.csv; done
	$(MAKE) --no-print-directory demo-report

# The report of what exists (it builds nothing): a zip with report.html and its data, unpacked beside it.
report: $(VENV)/.installed
	$(SNAKEMAKE) --report results/report.zip
	$(PY) -m zipfile -e results/report.zip results/
	@echo "report: results/report.zip; open results/report/report.html in a browser"

demo-report: $(VENV)/.installed
	$(SNAKEMAKE) --configfile config/demo.yaml --report results/demo/report.zip
	$(PY) -m zipfile -e results/demo/report.zip results/demo/
	@echo "report: results/demo/report.zip; open results/demo/report/report.html in a browser"

test: $(VENV)/.installed
	$(PY) -m pytest -q -ra

bench: $(VENV)/.installed
	$(PY) bench/bench_dataloader.py
	$(PY) bench/bench_fixations.py
	$(PY) bench/bench_augment.py
	$(PY) bench/bench_full_image_views.py

# Mutation testing of the core modules (hours on 2 cores; not in CI). A seeded sample per module:
#   make mutate MUTATE_ARGS="--sample 40 core config"
mutate: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[mutation]"
	$(PY) tools/mutate.py $(MUTATE_ARGS)

dag: $(VENV)/.installed
	$(SNAKEMAKE) all --rulegraph | dot -Tpng > docs/rulegraph.png

clean-demo:
	rm -rf results/demo
