"""Peak memory (RSS) of training on large MedMNIST files: this tree against an earlier revision. Prints JSON.

Each case trains `sdt_tiny` for one epoch in a fresh process (the whole train/val/test pipeline of the
Trainer, with `--train-limit` training images) and reports that process's peak RSS (VmHWM). The
cases: a 224-pixel 2D file and a 64^3 3D file, with and without contrast enhancement, run by the
engine of `--before` (exported with `git archive`) and by this tree's, the latter twice: preparing its
cache of the splits, and with the cache ready.

The 224-pixel file is the real one when `--data-root` holds pneumoniamnist_224.npz; otherwise one of
the official shape and dtype (uint8 images (N, 224, 224), uint8 labels (N, 1), official split sizes,
compressed like the official files) is made in a temporary folder. Its md5 cannot be the official one,
so the runs get a temporary HOME in which the file is marked as checked (the engine's md5 cache); both
engines honour that cache the same way.

    .venv/bin/python benchmarks/bench_data_memory.py [--before main] [--data-root ../shared/data/medmnist]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import json, re, sys, time
from pathlib import Path
import engine
from engine.learning.trainer import Trainer
from engine.options import TrainConfig
start = time.perf_counter()
summary = Trainer(TrainConfig(**json.loads(sys.argv[1])), sys.argv[2]).run()
peak_kib = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
print(json.dumps({"seconds": time.perf_counter() - start, "test_acc": summary["test_acc"],
                  "peak_rss_mib": peak_kib / 1024, "engine": engine.__file__}))
"""


def official_shape_file(folder: Path, flag: str = "pneumoniamnist", size: int = 224, seed: int = 0) -> Path:
    """A file with the official name, keys, shapes, dtypes and split sizes of `flag` at `size` pixels."""
    import medmnist

    counts = medmnist.INFO[flag]["n_samples"]
    rng = np.random.default_rng(seed)
    coarse = size // 8
    arrays = {}
    for split in ("train", "val", "test"):
        n = counts[split]
        blobs = rng.integers(0, 256, (n, coarse, coarse), dtype=np.uint8)  # smooth content, compressible
        arrays[f"{split}_images"] = np.repeat(np.repeat(blobs, 8, axis=1), 8, axis=2)
        arrays[f"{split}_labels"] = rng.integers(0, len(medmnist.INFO[flag]["label"]), (n, 1)).astype(np.uint8)
    path = folder / f"{flag}_{size}.npz"
    np.savez_compressed(path, **arrays)
    return path


def mark_checked(home: Path, path: Path, md5: str) -> None:
    """Record `path` as verified in the engine's md5 cache under `home` (see the module docstring)."""
    stat = path.stat()
    cache = home / ".cache" / "spikeview" / "verified_md5.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    known = json.loads(cache.read_text()) if cache.exists() else {}
    known[f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"] = md5
    cache.write_text(json.dumps(known))


def export_engine(revision: str, folder: Path) -> Path:
    """The `engine` package of `revision`, unpacked into `folder` (for PYTHONPATH)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "engine"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def peak_rss_run(config: dict, run_dir: Path, env: dict) -> dict:
    """Train in a fresh process; its result line with its peak RSS (MiB: VmHWM, which starts afresh at
    exec, unlike ru_maxrss, which keeps the forking parent's)."""
    result = subprocess.run([sys.executable, "-c", CHILD, json.dumps(config), str(run_dir)], env=env,
                            capture_output=True, text=True, cwd=run_dir.parent)  # not a folder with an engine/
    if result.returncode:
        raise RuntimeError(f"training failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="main", help="git revision to compare with (default: main)")
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data" / "medmnist",
                        help="folder of real MedMNIST files (adrenalmnist3d_64.npz; pneumoniamnist_224.npz if present)")
    parser.add_argument("--train-limit", type=int, default=128)
    args = parser.parse_args()

    import medmnist

    work = Path(tempfile.mkdtemp(prefix="bench-data-memory-"))
    try:
        home, data = work / "home", work / "data"
        data.mkdir(parents=True)
        real_224 = args.data_root / "pneumoniamnist_224.npz"
        if real_224.exists():
            os.symlink(real_224, data / real_224.name)
        else:
            mark_checked(home, official_shape_file(data), medmnist.INFO["pneumoniamnist"]["MD5_224"])
        os.symlink(args.data_root / "adrenalmnist3d_64.npz", data / "adrenalmnist3d_64.npz")
        engines = {"before": export_engine(args.before, work / "before"), "after": REPO}
        cases = [("pneumoniamnist", 224, "none"), ("pneumoniamnist", 224, "equalize"),
                 ("adrenalmnist3d", 64, "none"), ("adrenalmnist3d", 64, "percentile")]
        results = []
        for flag, size, enhancement in cases:
            files = {"file": f"{flag}_{size}.npz", "file_mib": (data / f"{flag}_{size}.npz").stat().st_size / 2**20}
            info = medmnist.INFO[flag]
            voxels = size ** (3 if flag.endswith("3d") else 2) * info["n_channels"]
            files["uint8_splits_mib"] = sum(info["n_samples"].values()) * voxels / 2**20
            files["float32_splits_mib"] = 4 * files["uint8_splits_mib"]
            config = dict(dataset=flag, size=size, data_root=str(data), enhance=enhancement, epochs=1,
                          batch_size=32, eval_batch_size=64, timesteps=2, train_limit=args.train_limit,
                          device="cpu", model_overrides={"dims": [8, 16, 32], "heads": 2})
            runs = {}
            for label, root in (("before", engines["before"]), ("after_preparing_cache", REPO),
                                ("after_cache_ready", REPO)):
                env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(root),
                       "SPIKEVIEW_CACHE": str(work / "cache"), "OMP_NUM_THREADS": "2"}
                started = time.perf_counter()
                (work / "runs").mkdir(exist_ok=True)
                runs[label] = peak_rss_run(config, work / "runs" / f"{flag}-{enhancement}-{label}", env)
                runs[label]["wall_s"] = time.perf_counter() - started
                print(f"{flag} {size} {enhancement} {label}: {runs[label]['peak_rss_mib']:.0f} MiB", file=sys.stderr)
            results.append({"dataset": flag, "size": size, "enhance": enhancement, **files, "runs": runs})
        print(json.dumps({"before": args.before, "train_limit": args.train_limit, "python": sys.version.split()[0],
                          "synthetic_224_file": not real_224.exists(), "results": results}, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
