"""The app's log file, in the user's state folder (the platform's convention), for support requests.

Linux: $XDG_STATE_HOME/spikeview (default ~/.local/state/spikeview); macOS: ~/Library/Logs/SpikeView;
Windows: %LOCALAPPDATA%\\SpikeView\\Logs. `SPIKEVIEW_LOG_DIR` overrides it.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
import time
from pathlib import Path

LOG_NAME = "spikeview.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(__name__)


def _process_start_time() -> float:
    """When this process started (seconds since the epoch): Linux's /proc, else now (this module's import)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.time()


PROCESS_START = _process_start_time()  # read once, at import: later calls read no file


def log_startup(milestone: str) -> float:
    """Log 'startup: <milestone> <s> s after the process started' (benchmarks/bench_startup.py reads it)."""
    seconds = time.time() - PROCESS_START
    log.info("startup: %s %.3f s after the process started", milestone, seconds)
    return seconds


def log_dir() -> Path:
    if override := os.environ.get("SPIKEVIEW_LOG_DIR"):
        return Path(override)
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / "SpikeView" / "Logs"
    if sys.platform == "darwin":
        return home / "Library" / "Logs" / "SpikeView"
    return Path(os.environ.get("XDG_STATE_HOME") or home / ".local" / "state") / "spikeview"


def log_file() -> Path:
    return log_dir() / LOG_NAME


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Log to stderr and to the log file (rotated at 2 MB, three kept); uncaught errors are logged too.

    Returns the log file, or None when its folder cannot be written (then stderr only, with a warning).
    """
    root = logging.getLogger()
    root.setLevel(level)
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError as exc:
        log.warning("cannot write the log file %s (%s); logging to the terminal only", path, exc)
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    _log_uncaught_errors()
    return path


def _log_uncaught_errors() -> None:
    def on_error(kind, value, traceback) -> None:
        logging.getLogger("spikeview").critical("uncaught error", exc_info=(kind, value, traceback))

    def on_thread_error(args: threading.ExceptHookArgs) -> None:
        on_error(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = on_error
    threading.excepthook = on_thread_error
