# The two commands of the README: `make demo` runs the whole system, `make test` runs the tests.
# Both install what they need first (Debian packages, .venv/, the package with its extras).
PY := .venv/bin/python

.PHONY: setup demo test screenshots bench lint clean eval-camera test-arm64

setup:
	./scripts/setup.sh

demo: setup
	./scripts/fetch_test_assets.sh
	$(PY) scripts/demo.py

test: setup
	./scripts/fetch_test_assets.sh
	$(PY) -m pytest -q -ra $(PYTEST_ARGS)

# The browser tests write their screenshots to test-artifacts/screenshots/; this refreshes the README's.
screenshots: setup
	ONESTOP_SCREENSHOTS=$(CURDIR)/docs/screenshots $(PY) -m pytest -q -ra tests/browser

bench: setup
	$(PY) bench/bench_ingest.py
	$(PY) bench/bench_ingest.py --engine postgresql
	$(PY) bench/bench_country.py
	$(PY) bench/bench_alert_intake.py
	$(PY) bench/bench_outbox.py
	./scripts/fetch_test_assets.sh
	$(PY) bench/bench_camera.py
	$(PY) bench/bench_sentiment.py
	$(PY) bench/bench_live_latency.py
	$(PY) bench/bench_reports.py
	$(PY) bench/bench_rollups.py
	$(PY) bench/bench_reports.py --engine postgresql
	$(PY) bench/bench_bridge.py

# Accuracy of the camera's models and pipeline on the real-footage set (docs/camera-accuracy.md).
eval-camera: setup
	./scripts/fetch_test_assets.sh
	$(PY) models/eval/evaluate.py

# The edge on the Pi's architecture: an arm64 Debian bookworm root (debootstrap) run under qemu-user-static,
# the edge installed in it from aarch64 wheels, each model on one real frame compared with x86. Needs root and
# several minutes (the root is kept in .cache/arm64-bookworm/ for the next run).
test-arm64: setup
	./scripts/fetch_test_assets.sh
	./scripts/test_arm64.sh

lint: setup
	.venv/bin/ruff check . && .venv/bin/mypy protocol hub edge simulator devtools

clean:
	rm -rf var/ .pytest_cache/ test-artifacts/
