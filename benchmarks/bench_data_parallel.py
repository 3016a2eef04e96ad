"""One process against N data-parallel processes on this machine's CPU: training speed and final metrics,
side by side at the same global batch size. Prints JSON.

Each case is a fresh `spikeview-engine train` process: one process with every core's threads, one
process on a single thread (the rounding reference: spiking networks amplify rounding, so metrics
differ slightly with the thread count alone), and `--nproc N` (N processes sharing the cores).
`train_images_per_s` counts the training epochs only (not evaluation or start-up). The cases run in turn
`--repeats` times (so a machine that gets busier slows them alike); the medians are reported.

    .venv/bin/python benchmarks/bench_data_parallel.py [--dataset breastmnist] [--epochs 3] [--nproc 2] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
METRICS = ("val_loss", "val_acc", "val_auc", "test_loss", "test_acc", "test_auc", "best_epoch",
           "train_images_per_s", "processes")


def train(args: argparse.Namespace, out: Path, nproc: int, threads: int) -> dict:
    command = [sys.executable, "-m", "engine.cli", "train", "--dataset", args.dataset, "--data-root",
               str(args.data_root), "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
               "--lr", str(args.lr), "--model", args.model, "--device", "cpu", "--nproc", str(nproc),
               "--out", str(out), "--exact-out"]
    if args.sync_batchnorm:
        command.append("--sync-batchnorm")
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return {"threads_per_process": max(1, threads // nproc), **{k: summary[k] for k in METRICS},
            "wall_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="breastmnist")
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data" / "medmnist")
    parser.add_argument("--model", default="sdt_tiny")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--no-sync-batchnorm", dest="sync_batchnorm", action="store_false")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    layouts = {"one_process": (1, cores), "one_process_one_thread": (1, 1), f"{args.nproc}_processes": (args.nproc, cores)}
    runs: dict[str, list[dict]] = {name: [] for name in layouts}
    with tempfile.TemporaryDirectory(prefix="bench-ddp-") as work:
        for repeat in range(args.repeats):
            for name, (nproc, threads) in layouts.items():
                runs[name].append(train(args, Path(work) / f"{name}-{repeat}", nproc, threads))
    cases = {name: {**results[0], "train_images_per_s": statistics.median(r["train_images_per_s"] for r in results),
                    "train_images_per_s_each": [r["train_images_per_s"] for r in results]}
             for name, results in runs.items()}
    base = cases["one_process"]["train_images_per_s"]
    print(json.dumps({"dataset": args.dataset, "model": args.model, "epochs": args.epochs, "repeats": args.repeats,
                      "global_batch_size": args.batch_size, "sync_batchnorm": args.sync_batchnorm, "cores": cores,
                      "cases": cases,
                      "speedup_vs_one_process": {k: v["train_images_per_s"] / base for k, v in cases.items()}},
                     indent=1))


if __name__ == "__main__":
    main()
