"""VTK inside Qt: needs a display (Xvfb). Screenshots are checked by pixel statistics."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.io import load
from waiting import wait_idle as _idle

pytestmark = [pytest.mark.gui, pytest.mark.vtk]



def _not_blank(pixels: np.ndarray) -> None:
    assert pixels.ndim == 3 and pixels.shape[2] >= 3
    assert pixels.std() > 8, "the rendering is blank"
    assert (pixels.max(axis=2) > 40).mean() > 0.02, "too few lit pixels"


def test_volume_view_renders_and_switches_presets(qtbot, volumes_dir: Path) -> None:
    from spikeview.views.volume_view import RENDER_PRESETS, VolumeView

    view = VolumeView()
    qtbot.addWidget(view)
    view.resize(360, 360)
    view.show()
    qtbot.waitExposed(view)
    assert view.available
    volume = load(volumes_dir / "CT_pitch.nii.gz")
    volume.array = volume.array.astype(np.int16) * 8 - 1024  # the stored values rescaled to HU
    view.set_volume(volume, window=(-160, 240))
    assert view.preset == "CT soft tissue"
    frames = {}
    for preset in RENDER_PRESETS:
        view.set_preset(preset)
        frames[preset] = view.capture()
        _not_blank(frames[preset])
    assert not np.array_equal(frames["MIP"], frames["CT bone"]), "presets change the picture"
    camera = view.renderer.GetActiveCamera()
    camera.Azimuth(60)
    rotated = view.capture()
    assert not np.array_equal(rotated, frames["MR"])


def test_main_window_screenshot_includes_vtk(qtbot, window, volumes_dir: Path) -> None:
    window.open_paths([volumes_dir / "MR_Gd.nii.gz"])
    _idle(qtbot, window)
    qtbot.waitExposed(window)
    image = window.screenshot().convertToFormat(window.screenshot().Format.Format_RGB888)
    width, height = image.width(), image.height()
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(height, image.bytesPerLine())[:, : 3 * width]
    pixels = pixels.reshape(height, width, 3)
    vtk_widget = window.scan_view.ortho_view.volume_view.vtk_widget
    origin = vtk_widget.mapTo(window, vtk_widget.rect().topLeft())
    ratio = image.devicePixelRatio()
    region = pixels[int(origin.y() * ratio): int((origin.y() + vtk_widget.height()) * ratio),
                    int(origin.x() * ratio): int((origin.x() + vtk_widget.width()) * ratio)]
    _not_blank(region)


def test_the_label_overlay_is_in_the_3d_rendering(qtbot, window, dialogs, volumes_dir: Path) -> None:
    from PySide6.QtWidgets import QMessageBox

    dialogs.answer = QMessageBox.StandardButton.No  # the label is opened by hand below
    window.resize(1600, 1000)
    window.open_paths([volumes_dir / "brain1_image.nrrd"])
    _idle(qtbot, window)
    view = window.scan_view.ortho_view.volume_view
    qtbot.waitUntil(lambda: view.pipeline is not None, timeout=30000)
    view.set_preset("MIP")
    without = view.capture()
    window.files.open_label(volumes_dir / "brain1_label.nrrd")
    _idle(qtbot, window)
    assert view.label_actor is not None and view.label is window.session.current.label
    with_label = view.capture()
    reddish = lambda frame: (frame[..., 0].astype(int) - frame[..., 1]) > 40  # noqa: E731 - label 1 is red
    assert reddish(with_label).sum() > 20 + reddish(without).sum(), "the lesion's surface is drawn"
    window.session.set_label_opacity(window.session.current, 0.0)  # the overlay off: in 3D too
    assert not view.label_actor.GetVisibility()
