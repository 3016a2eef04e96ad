#!/usr/bin/env bash
# Runs the test suite. The VTK views need an X server: start Xvfb when none is there.
set -euo pipefail
cd "$(dirname "$0")/.."
export SPIKEVIEW_SHARED_DATA="${SPIKEVIEW_SHARED_DATA:-$(cd .. && pwd)/shared/data}"
if [[ -z "${DISPLAY:-}" ]]; then
  if ! command -v Xvfb >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing Xvfb for the VTK view tests..." >&2
    (apt-get update -qq && apt-get install -y -qq xvfb libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libxcb-cursor0) >/dev/null
  fi
  if command -v Xvfb >/dev/null; then
    display=99
    while [[ -e /tmp/.X$display-lock ]]; do display=$((display + 1)); done  # a free display number
    Xvfb :$display -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
    xvfb_pid=$!
    trap 'kill $xvfb_pid 2>/dev/null || true' EXIT
    export DISPLAY=:$display
    sleep 1
  fi
fi
exec .venv/bin/python -m pytest "$@"
