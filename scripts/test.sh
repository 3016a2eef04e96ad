#!/usr/bin/env bash
# Runs the test suite. The VTK views need an X server: xvfb-run starts a private Xvfb on a free display
# number and stops it once pytest has exited, pass or fail, with or without a display of our own; the
# tests run in their own process group and Ctrl-C or TERM sent to this script is passed on to them, so
# nothing is left behind. Without Xvfb, the Qt tests run offscreen and the VTK ones are skipped.
# (pytest-xvfb was tried: it stops Xvfb inside the Python process at exit, while VTK's X connection is
# still open, and Xlib then ends a run whose tests all passed with status 1.)
set -euo pipefail
cd "$(dirname "$0")/.."
export SPIKEVIEW_SHARED_DATA="${SPIKEVIEW_SHARED_DATA:-$(cd .. && pwd)/shared/data}"
have_xvfb() { command -v xvfb-run >/dev/null && command -v xauth >/dev/null; }
if ! have_xvfb && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "Installing Xvfb for the VTK view tests..." >&2
  (apt-get update -qq && apt-get install -y -qq xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libxcb-cursor0) >/dev/null
fi
if ! have_xvfb; then
  exec .venv/bin/python -m pytest "$@"
fi
set -m  # job control: the tests get a process group of their own, where Ctrl-C is not ignored
xvfb-run --auto-servernum --server-args="-screen 0 1600x1000x24" .venv/bin/python -m pytest "$@" &
tests=$!
set +m  # (and no job notices)
trap 'kill -INT -- -"$tests" 2>/dev/null || true' INT
trap 'kill -TERM -- -"$tests" 2>/dev/null || true' TERM
status=0
while kill -0 "$tests" 2>/dev/null; do
  wait "$tests" && status=0 || status=$?  # a trapped signal interrupts wait: wait again for the real end
done
exit "$status"
