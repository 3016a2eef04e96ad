"""Viewer speed on a synthetic 512 x 512 x 300 CT (.nii.gz, int16 HU); prints one JSON object.

    .venv/bin/python benchmarks/bench_viewer.py                               # offscreen Qt
    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/bench_viewer.py --before main --rounds 3

Figures, each start in a fresh process (with `--before REV` this checkout and that commit's code, a
git worktree run with this venv, in turn, so the machine's drift hits both alike):
- `load_s`, `load_to_first_slice_s`: `engine.io.load()` alone, and to the first slice drawn in a slice view;
- `app_first_slice_s`: the main window asked to open the file, to its axial view painted with the
  scan (reading in the background, slices before the 3D rendering);
- `slice_scroll_fps`, and seconds per VTK volume-render frame (offscreen VTK window, 400 x 400).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from revisions import add_tree, remove_tree

REPO = Path(__file__).resolve().parents[1]
SHAPE = (512, 512, 300)


def synthetic_ct(shape=SHAPE) -> np.ndarray:
    """Air around a water ellipsoid with a bone ring and a few lesions, in HU (int16)."""
    rng = np.random.default_rng(0)
    x, y, z = np.ogrid[-1:1:complex(0, shape[0]), -1:1:complex(0, shape[1]), -1:1:complex(0, shape[2])]
    radius = (x / 0.8) ** 2 + (y / 0.65) ** 2 + (z / 0.95) ** 2
    volume = np.full(shape, -1000, np.int16)
    volume[radius < 1.0] = 700
    volume[radius < 0.85] = 40
    volume[((x - 0.3) ** 2 + y**2 + z**2) < 0.02] = 120
    volume += rng.integers(-20, 20, size=shape, dtype=np.int16)
    return volume


# ---- one measurement, in a child process ------------------------------------------------------------
def measure(path: Path) -> dict:
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from engine.io import load
    from spikeview.views.slice_view import SliceView

    view = SliceView("axial")
    view.resize(700, 700)
    view.show()
    app.processEvents()
    start = time.perf_counter()
    volume = load(path)
    loaded = time.perf_counter()
    view.set_volume(volume)
    view.set_levels(-160, 240)
    view.graphics.viewport().repaint()
    app.processEvents()
    first_slice = time.perf_counter() - start

    frames = 100
    scroll_start = time.perf_counter()
    for step in range(frames):
        view.set_slice(50 + step)
        view.graphics.viewport().repaint()
        app.processEvents()
    scroll_fps = frames / (time.perf_counter() - scroll_start)
    return {"load_s": round(loaded - start, 3), "load_to_first_slice_s": round(first_slice, 3),
            "app_first_slice_s": round(app_first_slice(app, path), 3), "slice_scroll_fps": round(scroll_fps, 1),
            **volume_render(volume), "qt_platform": app.platformName()}


def app_first_slice(app, path: Path) -> float:
    """The main window opening `path` (as File > Open does) until its axial view paints the scan."""
    from PySide6.QtCore import QEvent, QObject

    from spikeview.main_window import MainWindow

    class FirstPaint(QObject):
        """Notes when the axial view first paints with an image in it."""

        def __init__(self, view) -> None:
            super().__init__()
            self.view, self.at = view, None

        def eventFilter(self, _watched, event) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint and self.at is None and self.view.image_item.image is not None:
                self.at = time.perf_counter()
            return False

    window = MainWindow(data_root=path.parent)
    window.resize(1600, 1000)
    window.show()
    deadline = time.monotonic() + 30
    while getattr(window, "engine_ready", True) is False and time.monotonic() < deadline:
        app.processEvents()  # measure the reading, not the engine starting beside it
        time.sleep(0.01)
    axial = window.scan_view.ortho_view.views["axial"]
    watch = FirstPaint(axial)
    axial.graphics.viewport().installEventFilter(watch)
    start = time.perf_counter()
    window.open_paths([path])
    while watch.at is None and time.monotonic() < deadline + 120:
        app.processEvents()
        time.sleep(0.002)
    seconds = watch.at - start
    while window.runner.active:
        app.processEvents()
        time.sleep(0.01)
    window.close()
    return seconds


def volume_render(volume) -> dict:
    from vtkmodules.vtkRenderingCore import vtkRenderer, vtkRenderWindow
    import vtkmodules.vtkRenderingOpenGL2  # noqa: F401
    import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401

    from spikeview.views.volume_view import build_pipeline, render_to_array, reset_camera_anterior

    renderer, window = vtkRenderer(), vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(400, 400)
    window.AddRenderer(renderer)
    build_pipeline(volume, renderer, "CT soft tissue")
    reset_camera_anterior(renderer)
    window.Render()  # the first frame builds caches
    frames = 5
    start = time.perf_counter()
    for _ in range(frames):
        renderer.GetActiveCamera().Azimuth(10)
        window.Render()
    lit = float((render_to_array(window).max(axis=2) > 40).mean())
    return {"volume_render_frame_s": round((time.perf_counter() - start) / frames, 3),
            "volume_render_lit_fraction": round(lit, 3)}


# ---- the driver ---------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="REV", help="also measure the code of this commit (e.g. main)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return 0
    import nibabel as nib

    with tempfile.TemporaryDirectory(prefix="bench_viewer_") as scratch:
        scratch = Path(scratch)
        path = scratch / "synthetic_ct.nii.gz"
        nib.save(nib.Nifti1Image(synthetic_ct(), np.diag([0.7, 0.7, 1.0, 1.0])), path)
        trees = {"source": REPO, **({"before": add_tree(args.before, scratch / "before")} if args.before else {})}
        env = {**os.environ, "HOME": str(scratch / "home"), "XDG_CONFIG_HOME": str(scratch / "home" / "config"),
               "XDG_STATE_HOME": str(scratch / "home" / "state"), "PYTHONDONTWRITEBYTECODE": "1"}
        results: dict[str, list[dict]] = {name: [] for name in trees}
        try:
            for round_number in range(args.rounds):
                for name, tree in trees.items():
                    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(path)],
                                          env={**env, "PYTHONPATH": str(tree)}, capture_output=True, text=True,
                                          cwd=scratch)
                    if done.returncode != 0:
                        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
                    results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
                    print(f"round {round_number + 1}/{args.rounds} {name}: {results[name][-1]}", file=sys.stderr)
        finally:
            if args.before:
                remove_tree(trees["before"])
    keys = ("load_s", "load_to_first_slice_s", "app_first_slice_s", "slice_scroll_fps", "volume_render_frame_s")
    medians = {name: {key: statistics.median(row[key] for row in rows) for key in keys} for name, rows in results.items()}
    summary = {"volume_shape": list(SHAPE), "runs": results, "medians": medians, "cpu_threads": os.cpu_count(),
               "python": platform.python_version()}
    if args.before:
        summary["source_over_before"] = {key: round(medians["source"][key] / medians["before"][key], 3) for key in keys}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
