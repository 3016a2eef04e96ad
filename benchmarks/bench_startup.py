"""Start-up time: process start to the main window on screen, for SpikeView commands side by side.

    DISPLAY=:99 .venv/bin/python benchmarks/bench_startup.py                  # source vs /opt/spikeview
    DISPLAY=:99 .venv/bin/python benchmarks/bench_startup.py --installed dist/SpikeView/spikeview --drop-caches

The commands run alternately (A B A B ...) with a fresh home folder each time, so the machine's
drift hits both alike. `--drop-caches` (root only) empties the page cache before every start: a
cold start, as after a reboot. Optionally opens a scan and also times until its name is in the title.
Prints one JSON object: per command, every start's seconds and the median, and the ratio of medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "installer"))
from x11 import wait_for_window  # noqa: E402


def drop_page_cache() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def time_start(command: list[str], scan: Path | None, cold: bool) -> dict:
    if cold:
        drop_page_cache()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "HOME": home, "XDG_STATE_HOME": f"{home}/state", "XDG_CONFIG_HOME": f"{home}/config"}
        process = subprocess.Popen(command + ([str(scan)] if scan else []), env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            window = wait_for_window(process)
            shown = window + wait_for_window(process, containing=scan.name.split(".")[0]) if scan else None
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {"window_s": round(window, 3), "scan_shown_s": round(shown, 3) if shown is not None else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(REPO / ".venv" / "bin" / "spikeview"))
    parser.add_argument("--installed", default="/opt/spikeview/spikeview")
    parser.add_argument("--scan", type=Path, help="a scan to open at start-up")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--drop-caches", action="store_true", help="cold starts (root only)")
    args = parser.parse_args()
    commands = {"installed": [args.installed], "source": [args.source]}
    results: dict[str, list[dict]] = {name: [] for name in commands}
    for run in range(args.runs):
        for name, command in commands.items():
            results[name].append(time_start(command, args.scan, args.drop_caches))
            print(f"run {run + 1}/{args.runs} {name}: {results[name][-1]}", file=sys.stderr)
    summary = {name: {"runs": rows, "median_window_s": statistics.median(r["window_s"] for r in rows)}
               for name, rows in results.items()}
    summary["installed_over_source"] = round(summary["installed"]["median_window_s"]
                                             / summary["source"]["median_window_s"], 3)
    summary["cold"] = args.drop_caches
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
