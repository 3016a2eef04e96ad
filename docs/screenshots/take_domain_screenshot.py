"""Screenshot of the inference panel warning that a model cannot judge its input: a BreastMNIST
(ultrasound) model given a head CT volume with no plane chosen. The panel says so before any class,
shows the exact input the model saw and how it was made, and withholds the class until asked.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/take_domain_screenshot.py [--run RUN_DIR]

Without --run it trains a small BreastMNIST model first (2 epochs, about a minute on a CPU).
Writes docs/screenshots/domain_warning.png.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication

from take_screenshots import DATA, HERE


def train_breast_run(folder: Path) -> Path:
    from engine.learning.trainer import Trainer
    from engine.options import TrainConfig

    config = TrainConfig(dataset="breastmnist", data_root=str(DATA / "medmnist"), epochs=2, batch_size=32, lr=5e-3,
                         model_overrides={"dims": [8, 16, 32], "heads": 2}, device="cpu")
    Trainer(config, folder / "breastmnist-ultrasound").run()
    return folder / "breastmnist-ultrasound"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, help="a BreastMNIST run (default: train one)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)

    from engine.io import load
    from spikeview.controllers.inference import SOURCE_SCAN, InferenceController
    from spikeview.jobs import JobRunner
    from spikeview.panels.inference import InferencePanel
    from spikeview.session import Session

    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or train_breast_run(Path(tmp))
        session = Session(data_root=DATA / "medmnist")
        controller = InferenceController(session, JobRunner())
        panel = InferencePanel(session, controller)
        panel.resize(1100, 560)
        panel.show()
        session.add_scan(load(DATA / "volumes" / "CT_pitch.nii.gz"))
        session.set_run(run)
        while controller.domain is None:
            app.processEvents()
        panel.source_box.setCurrentText(SOURCE_SCAN)
        panel.start()
        while controller.outcome is None:
            app.processEvents()
        for _ in range(20):
            app.processEvents()
        assert not controller.outcome.result.in_domain and panel.reveal_button.isVisible()
        panel.grab().save(str(HERE / "domain_warning.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
