"""Watching a started SpikeView from outside, on an X display (Xvfb in CI): has its window appeared,
and what does the screen show? Used by the installer tests and benchmarks/bench_startup.py.

Needs `xwininfo` (Debian: x11-utils) and Pillow built with XCB (its wheels are).
"""
from __future__ import annotations

import os
import subprocess
import time

import numpy as np

WINDOW_TITLE = "SpikeView"


def window_ids(title: str = WINDOW_TITLE, containing: str = "") -> list[str]:
    """X ids of mapped top-level windows whose name starts with `title` and contains `containing`."""
    tree = subprocess.run(["xwininfo", "-root", "-children"], capture_output=True, text=True, check=True).stdout
    ids = []
    for line in tree.splitlines():
        parts = line.strip().split(" ", 1)
        if len(parts) == 2 and parts[1].startswith(f'"{title}') and containing in parts[1].split('"')[1]:
            ids.append(parts[0])
    return [i for i in ids if _is_viewable(i)]


def _is_viewable(window_id: str) -> bool:
    info = subprocess.run(["xwininfo", "-id", window_id], capture_output=True, text=True).stdout
    return "Map State: IsViewable" in info


def wait_for_window(process: subprocess.Popen | None, timeout_s: float = 120.0, title: str = WINDOW_TITLE,
                    containing: str = "") -> float:
    """Seconds until a window named `title`... (containing `containing`, e.g. the scan's name) is on
    screen; raises if `process` (None: started by someone else) ends or time runs out."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the app exited with status {process.returncode} before showing a window")
        if window_ids(title, containing):
            return time.perf_counter() - start
        time.sleep(0.02)
    raise TimeoutError(f"no '{title}' window{' showing ' + containing if containing else ''} after {timeout_s:.0f} s")


def window_pid(window_id: str) -> int:
    """The process that owns a window (_NET_WM_PID, which Qt sets)."""
    found = subprocess.run(["xprop", "-id", window_id, "_NET_WM_PID"], capture_output=True, text=True, check=True)
    return int(found.stdout.rsplit("=", 1)[1])


def grab_screen() -> np.ndarray:
    """The whole X screen as (H, W, 3) uint8."""
    from PIL import ImageGrab

    return np.asarray(ImageGrab.grab(xdisplay=os.environ["DISPLAY"]).convert("RGB"))


def looks_blank(image: np.ndarray) -> bool:
    """True for a screen of (almost) one colour: nothing was drawn."""
    return float(image.std()) < 8.0 or len(np.unique(image.reshape(-1, 3)[::97], axis=0)) < 16
