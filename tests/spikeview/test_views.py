"""Slice, ortho and dataset-browser widgets under offscreen Qt (plain pyqtgraph, no VTK)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from engine.io import AXIAL, load
from spikeview.panels.dataset_browser import PAGE_SIZE
from spikeview.views.ortho_view import OrthoView
from spikeview.views.slice_view import SliceView
from waiting import wait_idle as _idle

pytestmark = pytest.mark.gui



class FakeDrag:
    def __init__(self, button, delta) -> None:
        self._button, self._delta = button, delta

    def button(self):
        return self._button

    def modifiers(self):
        return Qt.KeyboardModifier.NoModifier

    def screenPos(self):  # noqa: N802
        return QPointF(100 + self._delta[0], 100 + self._delta[1])

    def lastScreenPos(self):  # noqa: N802
        return QPointF(100, 100)

    def accept(self):
        pass


class FakeWheel:
    def __init__(self, delta: int) -> None:
        self._delta = delta

    def delta(self):
        return self._delta

    def modifiers(self):
        return Qt.KeyboardModifier.NoModifier

    def accept(self):
        pass


def _image_stats(widget) -> tuple[float, int]:
    image = widget.grab().toImage().convertToFormat(widget.grab().toImage().Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8)[: image.height() * image.bytesPerLine()]
    return float(pixels.std()), len(np.unique(pixels))


def test_slice_view_window_level_drag_and_wheel(qtbot, volumes_dir: Path) -> None:
    volume = load(volumes_dir / "MR_Gd.nii.gz")
    view = SliceView(AXIAL)
    qtbot.addWidget(view)
    view.resize(500, 500)
    view.show()
    view.set_volume(volume)
    assert view.index == volume.spatial_shape[2] // 2
    assert view.image_item.image.flags["C_CONTIGUOUS"]
    low, high = view.levels
    with qtbot.waitSignal(view.levels_changed):
        view.viewbox.mouseDragEvent(FakeDrag(Qt.MouseButton.RightButton, (40, 0)))
    assert view.levels[1] - view.levels[0] > high - low, "dragging right widens the window"
    assert "W " in view.info_label.text() and " L " in view.info_label.text()
    with qtbot.waitSignal(view.slice_changed):
        view.viewbox.wheelEvent(FakeWheel(120))
    assert view.index == volume.spatial_shape[2] // 2 + 1
    assert {k: v.text() for k, v in view.edge_labels.items()} == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    std, colours = _image_stats(view)
    assert std > 10 and colours > 20, "the slice is drawn, not blank"


def test_2d_view_zooms_with_the_wheel(qtbot, medmnist_root: Path) -> None:
    from engine.io import load_medmnist_sample

    view = SliceView(None)
    qtbot.addWidget(view)
    view.resize(300, 300)
    view.show()
    view.set_volume(load_medmnist_sample(medmnist_root / "pneumoniamnist.npz", "test", 0))
    before = view.viewbox.viewRange()
    view.viewbox.wheelEvent(_QtWheel(view, 240))
    assert view.viewbox.viewRange() != before, "the wheel zooms 2D images"
    assert all(not label.isVisible() for label in view.edge_labels.values()), "no orientation for 2D pictures"


def _QtWheel(view, delta):  # noqa: N802 - a real QWheelEvent-like object for pyqtgraph
    class Wheel(FakeWheel):
        def pos(self):
            return QPointF(150, 150)

        def scenePos(self):  # noqa: N802
            return view.viewbox.mapViewToScene(QPointF(14, 14))

        def angleDelta(self):  # noqa: N802
            from PySide6.QtCore import QPoint

            return QPoint(0, delta)

        def orientation(self):
            return Qt.Orientation.Vertical

    return Wheel(delta)


def test_ortho_crosshair_is_linked(qtbot, volumes_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("SPIKEVIEW_NO_VTK", "1")
    volume = load(volumes_dir / "CT_pitch.nii.gz")
    ortho = OrthoView()
    qtbot.addWidget(ortho)
    ortho.set_volume(volume)
    ortho.set_crosshair((10, 20, 30))
    assert ortho.views["axial"].index == 30
    assert ortho.views["sagittal"].index == 10
    assert ortho.views["coronal"].index == 20
    ortho.views["axial"].step_slice(-3)
    assert ortho.crosshair == (10, 20, 27) and ortho.views["coronal"].index == 20
    # a click in the coronal view moves the other two
    coronal = ortho.views["coronal"]
    width, height = coronal._pixel
    _slice, row, col = volume.voxel_to_screen("coronal", (50, 20, 40))
    coronal.point_at(QPointF((col + 0.5) * width, (row + 0.5) * height))
    assert ortho.crosshair == (50, 20, 40)
    assert ortho.views["sagittal"].index == 50 and ortho.views["axial"].index == 40
    ortho.set_levels(-100, 300)
    assert all(v.levels == (-100, 300) for v in ortho.views.values())


def test_dataset_gallery_is_paged_and_filtered(qtbot, window, medmnist_root: Path) -> None:
    browser = window.browser
    qtbot.waitUntil(lambda: bool(browser.files), timeout=30000)
    on_disk = [f for f in browser.files if f.path is not None]
    titles = [f.title for f in on_disk]
    assert titles == sorted(titles) and "organamnist" in titles
    assert all(f.path.exists() for f in on_disk), "only files that exist are listed"
    assert [f.title for f in browser.files[len(on_disk):]] == ["phantom2d (built in)", "phantom3d (built in)"]
    organ = next(f for f in browser.files if f.title == "organamnist")
    start = time.perf_counter()
    browser.open_dataset(organ, "train")
    _idle(qtbot, window)
    qtbot.waitUntil(lambda: browser.model.images is not None, timeout=30000)
    qtbot.wait(50)
    assert browser.count_label.text() == "34561 of 34561 samples"
    assert browser.model.rowCount() == PAGE_SIZE, "rows arrive in pages"
    assert 0 < browser.model.thumbnails_made < 400, "thumbnails are made only for visible items"
    browser.class_box.setCurrentIndex(7)  # class 6: liver
    labels = browser.model.labels[:, 0]
    assert browser.count_label.text() == f"{int((labels == 6).sum())} of 34561 samples"
    assert all(labels[i] == 6 for i in browser.model.indices[:50])
    browser._on_thumbnail_clicked(browser.model.index(0))
    volume = window.session.current.volume
    assert volume.is_2d and volume.metadata["Label"] == "liver"
    assert window.scan_view.currentWidget() is window.scan_view.image_view
    assert time.perf_counter() - start < 120  # sanity only, no timing threshold


def test_3d_dataset_sample_opens_in_ortho_view(qtbot, window) -> None:
    browser = window.browser
    qtbot.waitUntil(lambda: bool(browser.files), timeout=30000)
    vessel = next(f for f in browser.files if f.title == "vesselmnist3d")
    browser.open_dataset(vessel, "val")
    qtbot.waitUntil(lambda: browser.model.images is not None and browser.model.spec.flag == "vesselmnist3d", timeout=30000)
    icon = browser.model.data(browser.model.index(0), Qt.ItemDataRole.DecorationRole)
    assert not icon.isNull() and icon.width() == 64
    browser._on_thumbnail_clicked(browser.model.index(2))
    assert window.scan_view.currentWidget() is window.scan_view.ortho_view
    assert window.session.current.volume.spatial_shape == (28, 28, 28)
    browser._on_thumbnail_clicked(browser.model.index(3))
    assert len(window.session.scans) == 1, "a new sample replaces the previous one"
