"""Start-up time: process start to the main window on screen and painted, for SpikeView commands side by side.

    DISPLAY=:99 .venv/bin/python benchmarks/bench_startup.py --before main          # this checkout vs main
    DISPLAY=:99 .venv/bin/python benchmarks/bench_startup.py --installed dist/SpikeView/spikeview --drop-caches
    DISPLAY=:99 .venv/bin/python benchmarks/bench_startup.py --before main --scan scan.nii.gz

The commands run alternately (A B A B ...) with a fresh home folder each time, so the machine's
drift hits both alike: "source" (this checkout, `python -m spikeview.app`), "before" (`--before REV`:
a git worktree of REV run with the same venv) and "installed" (`--installed PATH`). `--drop-caches`
(root only) empties the page cache before every start: a cold start, as after a reboot.

Measured from outside, the same way for every command: `window_s`, the window mapped on the X
screen (xwininfo); `painted_s`, the window's pixels no longer blank (a grab of its rectangle); with
`--scan`, `scan_shown_s`, the scan's name in the title. From the app's log (versions that write it):
`log_painted_s` (its first paint) and `log_engine_ready_s` (torch and the engine imported in the
background), both counted from the process start as the kernel records it.
Prints one JSON object: every start's figures, the medians, and the ratios of medians to "source".
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from revisions import add_tree, remove_tree
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "installer"))
from x11 import looks_blank, wait_for_window, window_ids  # noqa: E402

MILESTONE = re.compile(r"startup: (window painted|engine ready) ([0-9.]+) s after the process started")


def drop_page_cache() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def window_rectangle(window_id: str) -> tuple[int, int, int, int]:
    info = subprocess.run(["xwininfo", "-id", window_id], capture_output=True, text=True, check=True).stdout
    value = {key: int(re.search(rf"{key}:\s+(-?\d+)", info).group(1))
             for key in ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height")}
    x, y = value["Absolute upper-left X"], value["Absolute upper-left Y"]
    return x, y, x + value["Width"], y + value["Height"]


def wait_for_paint(process: subprocess.Popen, started: float, timeout_s: float = 120.0) -> float:
    """Seconds from `started` until the SpikeView window's pixels are not blank."""
    from PIL import ImageGrab
    import numpy as np

    while time.perf_counter() - started < timeout_s:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with status {process.returncode} before painting")
        ids = window_ids()
        if ids:
            pixels = np.asarray(ImageGrab.grab(bbox=window_rectangle(ids[0]), xdisplay=os.environ["DISPLAY"]).convert("RGB"))
            if not looks_blank(pixels):
                return time.perf_counter() - started
        time.sleep(0.03)
    raise TimeoutError("the window was not painted in time")


def milestones(state_home: Path) -> dict:
    log = state_home / "spikeview" / "spikeview.log"
    found = dict(MILESTONE.findall(log.read_text())) if log.is_file() else {}
    return {"log_painted_s": float(found["window painted"]) if "window painted" in found else None,
            "log_engine_ready_s": float(found["engine ready"]) if "engine ready" in found else None}


def time_start(command: list[str], env: dict, scan: Path | None, cold: bool, wait_engine_s: float) -> dict:
    """One start in a fresh home folder, which is also the working directory (`python -m` puts the
    working directory first on sys.path: it must not be a checkout other than the command's)."""
    if cold:
        drop_page_cache()
    with tempfile.TemporaryDirectory() as home:
        env = {**env, "HOME": home, "XDG_STATE_HOME": f"{home}/state", "XDG_CONFIG_HOME": f"{home}/config"}
        started = time.perf_counter()
        process = subprocess.Popen(command + ([str(scan.resolve())] if scan else []), env=env, cwd=home,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            window = wait_for_window(process)
            painted = wait_for_paint(process, started)
            shown = (time.perf_counter() - started + wait_for_window(process, containing=scan.name.split(".")[0])
                     if scan else None)
            deadline = time.perf_counter() + wait_engine_s  # let the engine finish starting (it logs when)
            while time.perf_counter() < deadline and milestones(Path(home) / "state")["log_engine_ready_s"] is None:
                time.sleep(0.1)
        finally:
            process.terminate()
            process.wait(timeout=30)
        found = milestones(Path(home) / "state")
    return {"window_s": round(window, 3), "painted_s": round(painted, 3),
            "scan_shown_s": round(shown, 3) if shown is not None else None, **found}



def median_of(rows: list[dict], key: str) -> float | None:
    values = [row[key] for row in rows if row.get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="REV", help="also start the app of this commit (e.g. main)")
    parser.add_argument("--installed", help="also start this installed SpikeView (e.g. /opt/spikeview/spikeview)")
    parser.add_argument("--scan", type=Path, help="a scan to open at start-up")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wait-engine", type=float, default=60.0,
                        help="seconds to wait for the engine-ready log line before ending a start")
    parser.add_argument("--drop-caches", action="store_true", help="cold starts (root only)")
    args = parser.parse_args()
    base_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as scratch:
        commands = {"source": ([sys.executable, "-m", "spikeview.app"], {**base_env, "PYTHONPATH": str(REPO)})}
        if args.before:
            tree = add_tree(args.before, Path(scratch) / "before")
            commands["before"] = ([sys.executable, "-m", "spikeview.app"], {**base_env, "PYTHONPATH": str(tree)})
        if args.installed:
            commands["installed"] = ([args.installed], base_env)
        results: dict[str, list[dict]] = {name: [] for name in commands}
        try:
            for run in range(args.runs):
                for name, (command, env) in commands.items():
                    results[name].append(time_start(command, env, args.scan, args.drop_caches, args.wait_engine))
                    print(f"run {run + 1}/{args.runs} {name}: {results[name][-1]}", file=sys.stderr)
        finally:
            if args.before:
                remove_tree(Path(scratch) / "before")
    keys = ("window_s", "painted_s", "scan_shown_s", "log_painted_s", "log_engine_ready_s")
    summary = {name: {"runs": rows, **{f"median_{key}": median_of(rows, key) for key in keys}}
               for name, rows in results.items()}
    for name in commands:
        if name != "source":
            summary[f"{name}_over_source_painted"] = round(
                summary[name]["median_painted_s"] / summary["source"]["median_painted_s"], 3)
    summary["cold"] = args.drop_caches
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
