"""Viewer speed on a synthetic 512 x 512 x 300 CT; prints one JSON object.

    .venv/bin/python benchmarks/bench_viewer.py            # offscreen Qt for the slice view
    xvfb-run .venv/bin/python benchmarks/bench_viewer.py   # same figures under a display

Figures: seconds from `engine.io.load()` to the first slice drawn, slice-scroll frames per second,
and seconds per VTK volume-render frame (offscreen VTK render window, 400 x 400, fixed-point ray cast).
"""
from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

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


def main() -> int:
    from PySide6.QtWidgets import QApplication

    from engine.io import load
    from spikeview.views.slice_view import SliceView
    from spikeview.views.volume_view import build_pipeline, render_to_array, reset_camera_anterior

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "synthetic_ct.nii.gz"
        nib.save(nib.Nifti1Image(synthetic_ct(), np.diag([0.7, 0.7, 1.0, 1.0])), path)
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

    from vtkmodules.vtkRenderingCore import vtkRenderer, vtkRenderWindow
    import vtkmodules.vtkRenderingOpenGL2  # noqa: F401
    import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401

    renderer, window = vtkRenderer(), vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(400, 400)
    window.AddRenderer(renderer)
    build_pipeline(volume, renderer, "CT soft tissue")
    reset_camera_anterior(renderer)
    window.Render()  # the first frame builds caches
    render_frames = 5
    render_start = time.perf_counter()
    for _ in range(render_frames):
        renderer.GetActiveCamera().Azimuth(10)
        window.Render()
    render_frame_s = (time.perf_counter() - render_start) / render_frames
    lit = float((render_to_array(window).max(axis=2) > 40).mean())

    print(json.dumps({
        "volume_shape": list(SHAPE),
        "load_s": round(loaded - start, 3),
        "load_to_first_slice_s": round(first_slice, 3),
        "slice_scroll_fps": round(scroll_fps, 1),
        "volume_render_frame_s": round(render_frame_s, 3),
        "volume_render_lit_fraction": round(lit, 3),
        "qt_platform": app.platformName(),
        "cpu_threads": os.cpu_count(),
        "python": platform.python_version(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
