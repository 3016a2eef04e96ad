"""Which CPU thread count and OpenMP wait policy train fastest here, alone and beside a busy process
(the app's GUI thread, another job, another user); prints one JSON object. `engine.device`'s default
(usable cores - 1, passive waiting) was chosen from this table on the project's 2-core machine.

Each setting runs in a fresh process (OpenMP reads its settings once), training `sdt_tiny` eagerly
(batch 32, 28 px, T=4) for `--seconds`; settings are run in turn, `--rounds` times, and the median kept.

    .venv/bin/python benchmarks/bench_threads.py [--seconds 8 --rounds 2]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.device import thread_plan, usable_cores  # noqa: E402

WORKER = """
import sys, time, torch
from engine.bench import _train_step
from engine.data.encoders import encode
from engine.models import create_model
torch.manual_seed(0)
model = create_model("sdt_tiny", 1, 2, 2, 4, 28)
step = _train_step(model, model, encode(torch.rand(32, 1, 28, 28), 4), torch.randint(0, 2, (32,)), torch.device("cpu"))
step()
start, steps = time.perf_counter(), 0
while time.perf_counter() - start < float(sys.argv[1]):
    step()
    steps += 1
print(32 * steps / (time.perf_counter() - start))
"""
BUSY = "import time\nend = time.time() + float(__import__('sys').argv[1])\nwhile time.time() < end: pass\n"


def images_per_s(threads: int, policy: str, competitor: bool, seconds: float) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    env.pop("OMP_WAIT_POLICY", None)
    if policy != "default":
        env["OMP_WAIT_POLICY"] = policy
    busy = subprocess.Popen([sys.executable, "-c", BUSY, str(seconds + 30)]) if competitor else None
    try:
        done = subprocess.run([sys.executable, "-c", WORKER, str(seconds)], env=env, capture_output=True, text=True,
                              check=True)
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cores = usable_cores()
    settings = list(itertools.product(sorted({1, max(1, cores - 1), cores}), ("default", "PASSIVE"), (False, True)))
    results: dict[tuple, list[float]] = {setting: [] for setting in settings}
    start = time.perf_counter()
    for _ in range(args.rounds):
        for setting in settings:
            results[setting].append(images_per_s(*setting, args.seconds))
    rows = [{"threads": t, "omp_wait_policy": p, "busy_competitor": c, "train_images_per_s": statistics.median(v)}
            for (t, p, c), v in results.items()]
    print(json.dumps({"usable_cores": cores, "engine_default": thread_plan().to_dict(), "rows": rows,
                      "seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
