# Self-bootstrapping: every target creates .venv with the machine's python3 when missing
# and installs the project with its dev and dask extras.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MODELS := sample_models/.built-stamp
OUT    ?= demo_output
INSPECT := $(BIN)/inspect
PYTEST_ARGS ?=

.PHONY: all venv models demo images test lint format bench bench-quick bench-datasets clean browser

all: test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,dask]'
	@echo "compiling the tree engine's kernels once (numba's cache; ~20 s of CPU)"
	$(BIN)/python -c "from inspectcli.engines.trees import _kernels; _kernels.warm()"
	@touch $(STAMP)

venv: $(STAMP)

$(MODELS): $(STAMP) sample_models/build.py
	$(BIN)/python sample_models/build.py
	@touch $(MODELS)

models: $(MODELS)

# Debian's chromium for the report's browser test (tests/reports/test_report_browser.py): installed
# with apt when missing and we are root (CI is); otherwise that test is skipped and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (apt-get) for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	      || echo "browser: apt-get could not install chromium; the browser test will be skipped"; \
	  else echo "browser: chromium is missing and cannot be installed here (not root, or no apt-get); the browser test will be skipped"; fi; }

demo: $(MODELS)
	@rm -rf $(OUT) && mkdir -p $(OUT)
	@echo "== inspect info (every sample model) =="
	$(INSPECT) info sample_models/diabetes_hgb.joblib sample_models/diabetes.parquet --target target
	$(INSPECT) info sample_models/cancer_logreg.joblib sample_models/cancer.csv --target target
	$(INSPECT) info sample_models/wine_rf.skops sample_models/wine.parquet --target target --trust sklearn.tree._tree.Tree
	$(INSPECT) info sample_models/bikes_hgb.joblib sample_models/bikes.parquet --target count
	$(INSPECT) info sample_models/friedman_hgb.joblib sample_models/friedman.parquet --target y
	$(INSPECT) info sample_models/bikes_lgbm.txt sample_models/bikes.parquet --target count
	$(INSPECT) info sample_models/bikes_xgb.json sample_models/bikes.parquet --target count
	@echo "== inspect pdp =="
	$(INSPECT) pdp sample_models/diabetes_hgb.joblib sample_models/diabetes.parquet --target target \
		-f bmi -f s5 -f bp -f age --kind both --ice-lines 100 --centered --out $(OUT)/diabetes-ice
	$(INSPECT) pdp sample_models/diabetes_hgb.joblib sample_models/diabetes.parquet --target target \
		--rank --pair bmi,s5 --out $(OUT)/diabetes
	$(INSPECT) pdp sample_models/bikes_hgb.joblib sample_models/bikes.parquet --target count \
		-f hour -f temp -f season -f weekday --pair hour,weekday --pair season,weather \
		--order weekday=mon,tue,wed,thu,fri,sat,sun --out $(OUT)/bikes
	$(INSPECT) pdp sample_models/wine_rf.skops sample_models/wine.parquet --target target \
		--trust sklearn.tree._tree.Tree -f proline -f flavanoids --class 1 --out $(OUT)/wine
	$(INSPECT) pdp sample_models/bikes_lgbm.txt sample_models/bikes.parquet --target count \
		-f hour -f temp -f season -f weekday --grid-resolution 20 --out $(OUT)/bikes-lgbm
	$(INSPECT) pdp sample_models/bikes_xgb.json sample_models/bikes.parquet --target count \
		-f hour -f temp -f season -f weekday --grid-resolution 20 --out $(OUT)/bikes-xgb
	@echo "== inspect importance =="
	$(INSPECT) importance sample_models/diabetes_hgb.joblib sample_models/diabetes.parquet \
		--target target --n-repeats 10 --cluster-threshold 0.5 --out $(OUT)/diabetes
	$(INSPECT) importance sample_models/wine_rf.skops sample_models/wine.parquet --target target \
		--trust sklearn.tree._tree.Tree --n-repeats 10 --scoring accuracy --scoring neg_log_loss --out $(OUT)/wine
	$(INSPECT) importance sample_models/cancer_logreg.joblib sample_models/cancer.csv \
		--target target --n-repeats 10 --scoring accuracy --scoring roc_auc \
		--cluster-threshold 0.3 --top 15 --out $(OUT)/cancer
	$(INSPECT) importance sample_models/bikes_hgb.joblib sample_models/bikes.parquet \
		--target count --n-repeats 5 --max-samples 5000 --group calendar=season,weekday \
		--out $(OUT)/bikes
	$(INSPECT) importance sample_models/bikes_lgbm.joblib sample_models/bikes.parquet \
		--target count --n-repeats 5 --max-samples 5000 --out $(OUT)/bikes-lgbm
	$(INSPECT) importance sample_models/bikes_xgb.json sample_models/bikes.parquet \
		--target count --n-repeats 5 --max-samples 5000 --out $(OUT)/bikes-xgb
	@echo "== inspect coefficients =="
	$(INSPECT) coefficients sample_models/cancer_logreg.joblib sample_models/cancer.csv --target target \
		--cv 5 --out $(OUT)/cancer
	@echo "== inspect interactions (Friedman #1: only x0 and x1 interact) =="
	$(INSPECT) interactions sample_models/friedman_hgb.joblib sample_models/friedman.parquet --target y \
		--rows 150 --out $(OUT)/friedman
	@echo "== inspect ale =="
	$(INSPECT) ale sample_models/diabetes_hgb.joblib sample_models/diabetes.parquet --target target \
		-f bmi -f s5 -f bp -f age --with-pdp --out $(OUT)/diabetes
	$(INSPECT) ale sample_models/bikes_hgb.joblib sample_models/bikes.parquet --target count \
		-f hour -f temp -f humidity -f season -f weekday -f weather \
		--order weekday=mon,tue,wed,thu,fri,sat,sun --with-pdp --subsample 5000 --out $(OUT)/bikes
	@echo "== subgroups: PD per season, ICE clusters =="
	$(INSPECT) pdp sample_models/bikes_hgb.joblib sample_models/bikes.parquet --target count \
		-f hour -f temp --by season --out $(OUT)/bikes-by-season
	$(INSPECT) pdp sample_models/bikes_hgb.joblib sample_models/bikes.parquet --target count \
		-f hour -f temp --ice-clusters 3 --out $(OUT)/bikes-clusters
	@echo "== --fail-if and inspect diff (the same model with another seed; this gate holds: exit 1) =="
	$(INSPECT) importance sample_models/diabetes_hgb.joblib sample_models/diabetes.parquet \
		--target target --n-repeats 10 --cluster-threshold 0.5 --random-state 1 --no-plot \
		--fail-if "low(sex) > 0.01" --fail-if "rank(bmi) > 3" --out $(OUT)/diabetes-seed1 || [ $$? -eq 1 ]
	$(INSPECT) diff $(OUT)/diabetes/importance.json $(OUT)/diabetes-seed1/importance.json \
		--fail-if "rank_change > 2" --fail-if "gap > 0.01" --out $(OUT)/diff
	@echo "== inspect report (one HTML page per model) =="
	$(INSPECT) report sample_models/diabetes_hgb.joblib sample_models/diabetes.parquet --target target \
		--out $(OUT)/report-diabetes --summary $(OUT)/report-diabetes/summary.md
	$(INSPECT) report sample_models/cancer_logreg.joblib sample_models/cancer.csv --target target \
		--scoring roc_auc --out $(OUT)/report-cancer --summary $(OUT)/report-cancer/summary.md
	@echo "results and plots written under $(OUT)/"

# Refresh the README's pictures from a demo run.
images: demo
	mkdir -p docs/images
	cp $(OUT)/bikes/pdp.png docs/images/pdp_bikes.png
	cp $(OUT)/diabetes-ice/pdp.png docs/images/pdp_diabetes_ice.png
	cp $(OUT)/wine/importance.png docs/images/importance_wine.png
	cp $(OUT)/diabetes/correlation.png docs/images/correlation_diabetes.png
	cp $(OUT)/cancer/coefficients.png docs/images/coefficients_cancer.png
	cp $(OUT)/bikes/ale.png docs/images/ale_bikes.png
	cp $(OUT)/bikes-by-season/pdp.png docs/images/pdp_by_season.png
	cp $(OUT)/bikes-clusters/pdp.png docs/images/pdp_ice_clusters.png
	$(BIN)/python docs/screenshot.py $(OUT)/report-diabetes/report.html docs/images/report_diabetes.png

test: $(MODELS) browser
	$(BIN)/python -m pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(MODELS)
	$(BIN)/python benchmarks/bench.py --write benchmarks/RESULTS.md

bench-quick: $(MODELS)
	$(BIN)/python benchmarks/bench.py --quick

# Slow (builds a 10M-row Parquet dataset under benchmarks/data/ once): not part of `make bench`.
bench-datasets: $(MODELS)
	$(BIN)/python benchmarks/datasets.py --write benchmarks/RESULTS.md

clean:
	rm -rf $(OUT) inspect-out .pytest_cache .ruff_cache
	rm -f sample_models/*.joblib sample_models/*.skops sample_models/*.parquet sample_models/*.csv $(MODELS)
	rm -f sample_models/*.txt sample_models/*.json
