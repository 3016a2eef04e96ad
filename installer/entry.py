"""The frozen app's one entry point, shared by its two executables.

`spikeview` starts the desktop app (or `--self-test`); `spikeview-engine` runs the engine's CLI.
Both are built from this script (installer/spikeview.spec); the executable's name picks the program.
"""
import multiprocessing
import sys
from pathlib import Path


def main() -> int:
    multiprocessing.freeze_support()  # worker processes (SNNDeep, Optuna --workers) start here too
    if Path(sys.executable).stem.lower() == "spikeview-engine":
        from engine.cli import main as program
    else:
        from spikeview.app import main as program
    return program()


if __name__ == "__main__":
    sys.exit(main())
