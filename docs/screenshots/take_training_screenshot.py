"""Screenshot of the training panel at the end of a short real run (curves, confusion, ROC).

    DISPLAY=:99 .venv/bin/python docs/screenshots/take_training_screenshot.py [--data-root DIR] [--epochs 12]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication

OUT = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-root", type=Path, default=Path(__file__).resolve().parents[3] / "shared/data/medmnist")
    parser.add_argument("--dataset", default="breastmnist")
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)

    from engine.options import TrainConfig
    from spikeview.controllers.training import TrainingController
    from spikeview.jobs import JobRunner
    from spikeview.panels.training import TrainingPanel
    from spikeview.session import Session

    session = Session(data_root=args.data_root)
    panel = TrainingPanel(session, TrainingController(session, JobRunner()))
    panel.resize(1300, 620)
    panel.show()
    config = TrainConfig(dataset=args.dataset, data_root=str(args.data_root), epochs=args.epochs, batch_size=32,
                         lr=5e-3, probe_every=0)
    ended = []
    panel.run_ended.connect(lambda path, state: ended.append(state))
    panel.start(config, Path(tempfile.mkdtemp()) / "run")
    while not ended:
        app.processEvents()
    for _ in range(50):
        app.processEvents()
    panel.grab().save(str(OUT / "training_panel.png"))
    return 0 if ended[0] == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
