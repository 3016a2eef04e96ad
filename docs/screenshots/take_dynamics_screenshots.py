"""Screenshots of the inference panel and every dynamics tab, from a trained run.

    DISPLAY=:99 .venv/bin/python docs/screenshots/take_dynamics_screenshots.py RUN_DIR [--data-root DIR]

Uses a test sample of the run's dataset; writes docs/screenshots/inference_panel.png and
dynamics_<tab>.png. A well-trained run shows more than a briefly trained one (live attention).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

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

    from spikeview.jobs import JobRunner
    from spikeview.session import Session
    from spikeview.views.dynamics_panel import DynamicsPanel
    from spikeview.views.inference_panel import InferencePanel

    inference = InferencePanel(Session(data_root=args.data_root), JobRunner())
    inference.resize(1100, 420)
    inference.show()
    inference.set_run(args.run)
    inference.index_spin.setValue(args.index)
    recordings = []
    inference.recorded.connect(lambda recording, *_: recordings.append(recording))
    inference.start()
    while not recordings:
        app.processEvents()
    app.processEvents()
    inference.grab().save(str(OUT / "inference_panel.png"))

    dynamics = DynamicsPanel()
    dynamics.resize(1100, 620)
    dynamics.show()
    dynamics.set_recording(recordings[0], f"{args.run.name} test #{args.index}")
    dynamics.set_energy(inference.outcome.energy)
    dynamics.raster.set_layer(args.layer)
    dynamics.raster.neuron_selected.emit(args.layer, int(dynamics.raster.layer.spikes.sum(0).argmax()))
    dynamics.scrubber.set_timestep(recordings[0].timesteps - 1)
    for index, name in enumerate(TABS):
        dynamics.tabs.setCurrentIndex(index)
        for _ in range(20):
            app.processEvents()
        dynamics.save_png(OUT / f"dynamics_{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
