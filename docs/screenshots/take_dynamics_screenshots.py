"""Screenshots of the inference panel and every dynamics tab, from a trained run.

    DISPLAY=:99 .venv/bin/python docs/screenshots/take_dynamics_screenshots.py RUN_DIR [--data-root DIR]

Uses a test sample of the run's dataset; writes docs/screenshots/inference_panel.png and
dynamics_<tab>.png. A well-trained run shows more than a briefly trained one (live attention).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QApplication

OUT = Path(__file__).resolve().parent
TABS = ("raster", "membrane", "firing_rates", "outputs", "attention", "energy")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--data-root", type=Path, default=Path(__file__).resolve().parents[3] / "shared/data/medmnist")
    parser.add_argument("--index", type=int, default=7)
    parser.add_argument("--layer", default="stage2.0.mlp.lif1")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)

    from spikeview.controllers.inference import InferenceController
    from spikeview.jobs import JobRunner
    from spikeview.panels.inference import InferencePanel
    from spikeview.session import Session
    from spikeview.views.dynamics_view import DynamicsView

    session = Session(data_root=args.data_root)
    controller = InferenceController(session, JobRunner())
    inference = InferencePanel(session, controller)
    inference.resize(1100, 420)
    inference.show()
    session.set_run(args.run)
    inference.index_spin.setValue(args.index)
    inference.start()
    while controller.outcome is None:
        app.processEvents()
    controller.reveal()  # a test sample of the run's own dataset is in its domain; revealed already unless not
    app.processEvents()
    inference.grab().save(str(OUT / "inference_panel.png"))

    dynamics = DynamicsView(session)
    dynamics.resize(1100, 620)
    dynamics.show()
    dynamics.show_recording(session.recording, f"{args.run.name} test #{args.index}")
    dynamics.raster.set_layer(args.layer)
    spikes = dynamics.raster.layer.spikes
    counts = spikes.sum(0, dtype=np.int64)  # the busiest neuron that does not fire at every step
    dynamics.raster.neuron_selected.emit(args.layer, int(np.where(counts < len(spikes), counts, -1).argmax()))
    dynamics.scrubber.set_timestep(session.recording.recording.timesteps - 1)
    for index, name in enumerate(TABS):
        dynamics.tabs.setCurrentIndex(index)
        for _ in range(20):
            app.processEvents()
        dynamics.save_png(OUT / f"dynamics_{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
