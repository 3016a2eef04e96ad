"""Training speed in the app against the CLI, side by side; prints one JSON object.

    .venv/bin/python benchmarks/bench_training_app.py                       # breastmnist, sdt_tiny, 2 epochs, batch 32
    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/bench_training_app.py --before main --rounds 2
    .venv/bin/python benchmarks/bench_training_app.py --threads 1          # OMP_NUM_THREADS=1 for every command

Each round trains the same run with `spikeview-engine train` and with the app (the main window shown,
its training panel started as a click on Start would, live curves and probe recordings drawn), in
turn, so the machine's drift hits both alike. `--before REV` adds the app of another commit (a
`git worktree` of REV, run with this venv), for a before/after figure from one run.

Figures per command: training images/s of every epoch (the Trainer's own `images_per_s` in
metrics.jsonl: the training loop only, the same definition in the CLI and the app), their median,
and the wall seconds from process start to the run's end. Ratios are app / CLI medians.
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

from revisions import add_tree, remove_tree
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "medmnist"


# ---- the app side, run in a child process ---------------------------------------------------------
def train_in_app(config_json: str, run_dir: Path) -> dict:
    """Start the app's window, train through its training panel, return when the run has ended."""
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:  # what `spikeview` does at start-up, before torch loads (engine.device, the one place for threads)
        from engine.device import configure_threads
    except ImportError:  # a commit from before that place: its app set no thread count
        configure_threads = None
    if configure_threads is not None:
        configure_threads()
    from spikeview.app import create_application

    app = create_application([])
    from engine.options import TrainConfig
    from spikeview.main_window import MainWindow

    config = TrainConfig(**json.loads(config_json))
    window = MainWindow(data_root=Path(config.data_root))
    window.resize(1600, 1000)
    window.show()
    ended: list[str] = []
    window.training.run_ended.connect(lambda _path, state, _summary: ended.append(state))
    deadline = time.monotonic() + 60
    while getattr(window, "engine_ready", True) is False and time.monotonic() < deadline:
        app.processEvents()  # the app starts its engine in the background: Start waits for it
        time.sleep(0.01)
    batches: list[int] = []
    window.training.batch.connect(lambda info: batches.append(info["step"]))
    start, gui_cpu = time.perf_counter(), time.thread_time()
    window.training_panel.start(config, run_dir)
    while not ended:
        app.processEvents()
        time.sleep(0.002)
    seconds, gui_cpu = time.perf_counter() - start, time.thread_time() - gui_cpu
    window.close()
    import torch

    return {"state": ended[0], "train_wall_s": round(seconds, 2), "gui_thread_cpu_s": round(gui_cpu, 2),
            "batch_updates": len(batches), "torch_threads": torch.get_num_threads()}


# ---- the driver -------------------------------------------------------------------------------------
def epoch_rates(run_dir: Path) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [round(row["images_per_s"], 2) for row in rows]


def run_command(name: str, command: list[str], env: dict, run_dir: Path) -> dict:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    rates = epoch_rates(run_dir)
    child = json.loads(done.stdout.strip().splitlines()[-1]) if name != "cli" else {}
    return {"epoch_images_per_s": rates, "median_images_per_s": statistics.median(rates), "wall_s": round(wall, 2),
            **{k: v for k, v in child.items() if k != "state"}}



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--dataset", default="breastmnist")
    parser.add_argument("--model", default="sdt_tiny")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-limit", type=int, default=0, help="train on the first N samples (0: all)")
    parser.add_argument("--probe-every", type=int, default=20, help="the app's probe interval (the CLI has none)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS for every command (0: unset)")
    parser.add_argument("--before", metavar="REV", help="also run the app of this commit (e.g. main)")
    parser.add_argument("--child-app", nargs=2, metavar=("CONFIG_JSON", "RUN_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_app:
        print(json.dumps(train_in_app(args.child_app[0], Path(args.child_app[1]))))
        return

    config = {"dataset": args.dataset, "data_root": str(args.data_root), "model": args.model, "epochs": args.epochs,
              "batch_size": args.batch_size, "train_limit": args.train_limit or None, "probe_every": args.probe_every}
    python, engine_cli = sys.executable, str(Path(sys.executable).parent / "spikeview-engine")
    cli_flags = ["train", "--dataset", args.dataset, "--data-root", str(args.data_root), "--model", args.model,
                 "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--exact-out"]
    if args.train_limit:
        cli_flags += ["--train-limit", str(args.train_limit)]
    with tempfile.TemporaryDirectory(prefix="bench_training_app_") as scratch:
        scratch = Path(scratch)
        trees = {"app": REPO}
        if args.before:
            trees["app_before"] = add_tree(args.before, scratch / "before")
        base_env = {**os.environ, "HOME": str(scratch / "home"), "XDG_CONFIG_HOME": str(scratch / "home" / "config"),
                    "XDG_STATE_HOME": str(scratch / "home" / "state"), "PYTHONDONTWRITEBYTECODE": "1"}
        if args.threads:
            base_env["OMP_NUM_THREADS"] = str(args.threads)
        results: dict[str, list[dict]] = {"cli": [], **{name: [] for name in trees}}
        try:
            for round_number in range(args.rounds):
                for name in results:
                    run_dir = scratch / f"{name}_{round_number}"
                    if name == "cli":
                        command, env = [engine_cli, *cli_flags, "--out", str(run_dir)], base_env
                    else:
                        command = [python, str(Path(__file__).resolve()), "--child-app", json.dumps(config), str(run_dir)]
                        env = {**base_env, "PYTHONPATH": str(trees[name])}
                    results[name].append(run_command(name, command, env, run_dir))
                    print(f"round {round_number + 1}/{args.rounds} {name}: {results[name][-1]}", file=sys.stderr)
        finally:
            if args.before:
                remove_tree(trees["app_before"])
    medians = {name: statistics.median(r["median_images_per_s"] for r in rows) for name, rows in results.items()}
    summary = {"config": {**config, "data_root": str(args.data_root)}, "omp_num_threads": args.threads or None,
               "cpu_count": os.cpu_count(), "qt_platform": "xcb" if os.environ.get("DISPLAY") else "offscreen",
               "runs": results, "median_images_per_s": medians,
               **{f"{name}_over_cli": round(medians[name] / medians["cli"], 3) for name in trees}}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
