"""The first hour in the app, as a new user sees it at 1600 x 1000 with a clean home folder: the first
screen after opening a CT, a training run in progress, and the attention tab on the trained model.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/take_first_hour_screenshots.py

Writes first_screen_ct.png, training_in_progress.png and attention_trained.png here. The training is
a real run on BreastMNIST (the form's own model for this machine); the attention is that run's best
checkpoint on the first test sample whose attention is non-zero somewhere.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("SPIKEVIEW_SHARED_DATA", HERE.parents[2] / "shared" / "data"))


def wait(app, until, seconds: float = 600) -> None:
    deadline = time.time() + seconds
    while not until() and time.time() < deadline:
        app.processEvents()
        time.sleep(0.01)
    if not until():
        raise TimeoutError("the app did not get there in time")


def settle(app, window, seconds: float = 1.0) -> None:
    """Let jobs end and the window repaint (the 3D rendering is built just after the slices)."""
    wait(app, lambda: not window.runner.active or window.training.running)
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ct", type=Path, default=DATA / "volumes" / "CT_pitch.nii.gz")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="spikeview_first_hour_"))
    os.environ.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_STATE_HOME=str(home / "state"))
    from engine.device import configure_threads
    from spikeview.app import create_application

    configure_threads()  # as `spikeview` does at start-up, before torch loads
    app = create_application([])
    from spikeview.main_window import MainWindow

    window = MainWindow(data_root=DATA / "medmnist")
    window.resize(1600, 1000)
    window.show()
    wait(app, lambda: window.training_panel.ready)

    window.open_paths([args.ct])
    settle(app, window, 3.0)
    window.screenshot().save(str(HERE / "first_screen_ct.png"))

    window.browser.open_dataset(next(f for f in window.session.datasets if f.spec.flag == "breastmnist"), "train")
    settle(app, window)
    window.session.set_runs_folder(home / "runs")
    settle(app, window)
    form = window.training_panel.form.widgets
    form["epochs"].setValue(args.epochs)
    form["batch_size"].setValue(32)
    form["lr"].setValue(0.005)
    form["probe_every"].setValue(10)
    job = window.training_panel.start()
    wait(app, lambda: len(window.training_panel.plots.rows) >= 2)  # two epochs in: curves, confusion, ROC
    settle(app, window, 0.5)
    window.screenshot().save(str(HERE / "training_in_progress.png"))
    wait(app, lambda: job.done, seconds=3600)
    settle(app, window)

    window.session.set_run(job.run_dir)
    panel = window.inference_panel
    for index in range(40):
        panel.index_spin.setValue(index)
        panel.start(panel.source_box.itemText(0))  # a dataset sample (test split)
        settle(app, window)
        analysis = window.session.recording
        if analysis is not None and any(saliency.any() for saliency in analysis.saliency.values()):
            break
    block = next(name for name, saliency in analysis.saliency.items() if saliency.any())
    step = next(t for t in range(analysis.recording.timesteps) if analysis.saliency[block][t].any())
    dynamics = window.dynamics
    dynamics.tabs.setCurrentWidget(dynamics.attention)
    dynamics.attention.block_box.setCurrentText(block)
    window.session.set_timestep(step)
    settle(app, window, 0.5)
    window.screenshot().save(str(HERE / "attention_trained.png"))
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
