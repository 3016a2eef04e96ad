"""Screenshots of the main window for the docs. Run under a display (Xvfb) so VTK is visible:

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/take_screenshots.py
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("SPIKEVIEW_SHARED_DATA", HERE.parents[2] / "shared" / "data"))


def _wait(app, window, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while (window.busy or time.time() < deadline - seconds + 0.5) and time.time() < deadline:
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    from spikeview.app import create_application

    app = create_application()
    from spikeview.main_window import MainWindow

    window = MainWindow(data_root=DATA / "medmnist")
    window.resize(1400, 860)
    for dock in (window.training_dock, window.inference_dock, window.dynamics_dock, window.snndeep_dock):
        dock.hide()  # these pictures are of the scan; the panels have their own
    window.show()
    # 3D: a contrast-enhanced brain MR with the VTK rendering
    window.open_paths([DATA / "volumes" / "MR_Gd.nii.gz"])
    _wait(app, window)
    window.screenshot().save(str(HERE / "main_window_3d.png"))
    # 2D: a chest X-ray from PneumoniaMNIST picked in the gallery
    browser = window.browser
    while not browser.files:
        app.processEvents()
    browser.open_dataset(next(f for f in browser.files if f.spec.flag == "pneumoniamnist"), "test")
    _wait(app, window)
    browser.class_box.setCurrentIndex(2)
    browser._on_thumbnail_clicked(browser.model.index(4))
    _wait(app, window)
    window.screenshot().save(str(HERE / "main_window_2d.png"))
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
