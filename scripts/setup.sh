#!/usr/bin/env bash
# Installs what CueDeck needs, once: system packages (as root), then a virtual environment
# in .venv. Idempotent; when nothing changed since the last run it returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

# PortAudio for playback, Xvfb and xdotool for the headless end-to-end test, the X/xcb libraries Qt
# loads, pigz to compress the app's download (`make package`) on every core.
system_packages=(libportaudio2 xvfb pigz libasound2 libegl1 libgl1 libfontconfig1 libglib2.0-0
  libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
  libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 xdotool)

if command -v dpkg-query >/dev/null; then
  missing=()
  for p in "${system_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "setup: installing system packages: ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "setup: missing system packages; as root run: apt-get install ${missing[*]}" >&2
    fi
  fi
fi

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || { echo "setup: CueDeck needs Python 3.11 ($python not found; set PYTHON=...)" >&2; exit 1; }

stamp=.venv/.setup-stamp
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0

echo "setup: installing Python packages into .venv (the first time takes a few minutes and ~6 GB)"
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip -q --disable-pip-version-check)
"${pip[@]}" install -e '.[test]'
# Their own pins are stale (torch 2.1; TensorFlow for basic-pitch); their real needs are in pyproject.toml.
"${pip[@]}" install --no-deps audiocraft==1.3.0 basic-pitch==0.4.0
# librosa's numba kernels compile once into its cache (about 30 s): here, not in the first measuring.
.venv/bin/python -c "from engine.analysis import warm_up; warm_up()"
echo "$want" > "$stamp"
echo "setup: done"
