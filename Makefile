# The README's two commands. Set-up lives in scripts/setup.sh: idempotent, quick once done.
PY := .venv/bin/python

.PHONY: run test setup package bench clean

run: setup
	$(PY) -m desktop

test: setup
	scripts/test.sh $(ARGS)

setup:
	@scripts/setup.sh

# The installable app: dist/CueDeck and its tarball (README › Install the app).
package: setup
	packaging/build.sh

bench: setup
	$(PY) benchmarks/desktop_speed.py
	$(PY) benchmarks/export_speed.py
	$(PY) benchmarks/handover_speed.py
	$(PY) benchmarks/catid.py
	$(PY) benchmarks/analysis.py
	$(PY) benchmarks/transcription.py
	$(PY) benchmarks/separation.py
	$(PY) benchmarks/cluster.py
	$(PY) benchmarks/engine.py
	$(PY) benchmarks/engine.py --architecture musicgen-medium --candidates 2
	$(PY) benchmarks/engine.py --architecture audiogen-medium --candidates 2
	$(PY) benchmarks/app_latency.py --precision int8

clean:
	rm -rf .venv build dist *.egg-info
