"""Dynamics benchmark: raster animation frames per second with 100,000 spikes, and the GUI event
loop's worst stalls while a training job runs. Prints one JSON object.

    python benchmarks/bench_dynamics.py [--data-root ../shared/data/medmnist] [--seconds 20]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.options import TrainConfig  # noqa: E402
from engine.probe.recording import LayerRecord, Recording  # noqa: E402
from spikeview.controllers.training import TrainingController  # noqa: E402
from spikeview.jobs import JobRunner  # noqa: E402
from spikeview.panels.training import TrainingPanel  # noqa: E402
from spikeview.session import Session  # noqa: E402
from spikeview.views.raster_view import RasterView  # noqa: E402

log = logging.getLogger("bench_dynamics")
TICK_MS = 5


def synthetic_recording(spikes_wanted: int = 100_000, timesteps: int = 8, rate: float = 0.25) -> Recording:
    neurons = int(spikes_wanted / (timesteps * rate))
    rng = np.random.default_rng(0)
    spikes = (rng.random((timesteps, neurons)) < rate).astype(np.uint8)
    layer = LayerRecord("bench", (neurons,), np.arange(neurons), spikes, None, spikes.mean(0, dtype=np.float32)[:1])
    return Recording(timesteps, np.zeros((1, 28, 28), np.float32), np.zeros((timesteps, 2), np.float32),
                     np.array([0.5, 0.5], np.float32), ["a", "b"], layers={"bench": layer})


def raster_fps(app: QApplication, frames: int = 200) -> dict:
    recording = synthetic_recording()
    view = RasterView()
    view.resize(1000, 700)
    view.show()
    view.set_recording(recording)
    app.processEvents()
    start = time.perf_counter()
    for frame in range(frames):
        view.set_timestep(frame % recording.timesteps)
        view.plot.repaint()
        app.processEvents()
    seconds = time.perf_counter() - start
    spikes = int(recording.layers["bench"].spikes.sum())
    view.close()
    return {"raster_spikes": spikes, "raster_neurons": recording.layers["bench"].spikes.shape[1],
            "raster_fps": frames / seconds}


def stalls_during_training(app: QApplication, data_root: Path, seconds: float) -> dict:
    """A QTimer ticks every TICK_MS; lateness beyond that is time the GUI thread could not react."""
    runs = Path(tempfile.mkdtemp(prefix="bench_dynamics_"))
    session = Session(data_root=data_root)
    session.set_runs_folder(runs)
    panel = TrainingPanel(session, TrainingController(session, JobRunner()))
    panel.resize(1100, 600)
    panel.show()
    config = TrainConfig(dataset="breastmnist", data_root=str(data_root), model="sdt_tiny", epochs=50,
                         batch_size=32, timesteps=4, probe_every=5, train_limit=256)
    job = panel.start(config, runs / "bench")
    lateness: list[float] = []
    clock, timer = QElapsedTimer(), QTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick() -> None:
        now = clock.nsecsElapsed()
        lateness.append(max(0.0, (now - last[0]) / 1e6 - TICK_MS))
        last[0] = now

    timer.timeout.connect(tick)
    timer.start(TICK_MS)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and not job.done:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    steps = panel.plots.batch_steps[-1] if panel.plots.batch_steps else 0
    job.cancel()
    panel.controller.runner.wait(60000)
    app.processEvents()
    values = np.array(lateness or [0.0])
    return {"stall_p99_ms": float(np.percentile(values, 99)), "stall_max_ms": float(values.max()),
            "ticks": len(lateness), "training_steps_seen": int(steps), "watch_seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-root", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "medmnist")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    app = QApplication.instance() or QApplication([])
    result = {"platform": QApplication.platformName(), **raster_fps(app),
              **stalls_during_training(app, args.data_root, args.seconds)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
