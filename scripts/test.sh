#!/usr/bin/env bash
# The whole suite, headless: tests/conftest.py gives Qt an offscreen platform, PortAudio an
# ALSA null device and every test its own CUEDECK_HOME.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  # The installed app's test runs alone, after the rest: its 16 GB of fresh files stall the
  # fsyncs of any test beside it for seconds.
  .venv/bin/python -m pytest -m "not bundle"
  exec .venv/bin/python -m pytest -m bundle -n 0
fi
exec .venv/bin/python -m pytest "$@"
