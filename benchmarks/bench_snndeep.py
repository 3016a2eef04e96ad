"""SNNDeep benchmark: BPTT training time per epoch, custom vs snnTorch vs SpikingJelly, same network
and data, one run; prints one JSON object (ratios > 1 mean the custom implementation is faster).

    .venv/bin/python benchmarks/bench_snndeep.py [--samples 2048 --hidden 256 --timesteps 16 --epochs 3]
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.snndeep.bench import BenchConfig, run_benchmark  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in fields(BenchConfig):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    args = parser.parse_args()
    if not args.medmnist_root:
        default = REPO.parent / "shared" / "data" / "medmnist"
        args.medmnist_root = str(default) if default.is_dir() else ""
    config = BenchConfig(**{f.name: getattr(args, f.name) for f in fields(BenchConfig)})
    print(json.dumps(run_benchmark(config)))


if __name__ == "__main__":
    main()
