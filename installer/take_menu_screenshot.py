"""Screenshot of the installed SpikeView started from its menu entry, for installer/README.md.

    sudo apt install ./dist/spikeview_*.deb
    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python installer/take_menu_screenshot.py SCAN

The desktop entry is launched the way a menu launches it (`gio launch`), with SCAN as its file
argument (as when a scan is dropped on the launcher); the window is saved as
docs/screenshots/installed_from_menu.png once the views have drawn.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from x11 import grab_screen, wait_for_window, window_ids, window_pid  # noqa: E402

ENTRY = Path("/usr/share/applications/spikeview.desktop")
OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "installed_from_menu.png"


def window_box(window_id: str) -> tuple[int, int, int, int]:
    info = subprocess.run(["xwininfo", "-id", window_id], capture_output=True, text=True, check=True).stdout
    fields = dict(line.strip().split(":", 1) for line in info.splitlines() if ":" in line)
    x, y = int(fields["Absolute upper-left X"]), int(fields["Absolute upper-left Y"])
    return x, y, x + int(fields["Width"]), y + int(fields["Height"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scan", type=Path)
    args = parser.parse_args()
    if not ENTRY.is_file():
        sys.exit(f"{ENTRY} is not there: install the .deb first.")
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "HOME": home, "XDG_STATE_HOME": f"{home}/state", "XDG_CONFIG_HOME": f"{home}/config"}
        subprocess.run(["gio", "launch", str(ENTRY), str(args.scan.resolve())], env=env, check=True)
        name = args.scan.name.split(".")[0]
        wait_for_window(None, timeout_s=120, containing=name)
        time.sleep(8)  # the slices, the volume rendering and the docks settle
        window = window_ids(containing=name)[0]
        image = grab_screen()
        x0, y0, x1, y1 = window_box(window)
        Image.fromarray(np.ascontiguousarray(image[y0:y1, x0:x1])).save(OUT)
        os.kill(window_pid(window), signal.SIGTERM)
    print(OUT)


if __name__ == "__main__":
    main()
