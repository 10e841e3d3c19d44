#!/usr/bin/env bash
# The whole suite, headless: tests/conftest.py gives Qt an offscreen platform, PortAudio an
# ALSA null device and every test its own CUEDECK_HOME.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest "$@"
