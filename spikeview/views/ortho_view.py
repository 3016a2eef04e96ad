"""Three orthogonal slice views with a linked crosshair, plus the VTK volume rendering (with the
label overlay as surfaces)."""
from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from engine.io.volume import AXIAL, CORONAL, SAGITTAL, VIEW_AXES, Volume
from spikeview.views.slice_view import SliceView
from spikeview.views.volume_view import VolumeView

RENDER_DELAY_MS = 100  # the slices reach the screen first; then the 3D rendering is built


class OrthoView(QWidget):
    """Axial | sagittal over coronal | 3D. Clicking or scrolling one view moves the shared crosshair."""

    cursor_moved = Signal(object)  # voxel under the mouse or None
    crosshair_moved = Signal(object)  # voxel
    levels_changed = Signal(float, float)
    levels_dragged = Signal(float, float)  # the user right-dragged the window in a view

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.volume: Volume | None = None
        self.label: tuple[Volume | None, float] = (None, 0.4)  # the overlay and its opacity
        self.crosshair: tuple[int, int, int] | None = None
        self.views = {view: SliceView(view) for view in (AXIAL, SAGITTAL, CORONAL)}
        self.volume_view = VolumeView()
        # the 3D rendering is built a moment after the slices; a timer owned by the view dies with it
        self._render_timer = QTimer(self, singleShot=True, interval=RENDER_DELAY_MS)
        self._render_timer.timeout.connect(self._render)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        grid.addWidget(self.views[AXIAL], 0, 0)
        grid.addWidget(self.views[SAGITTAL], 0, 1)
        grid.addWidget(self.views[CORONAL], 1, 0)
        grid.addWidget(self.volume_view, 1, 1)
        for view in self.views.values():
            view.pointed.connect(self.set_crosshair)
            view.slice_changed.connect(lambda index, v=view: self._on_slice_scrolled(v, index))
            view.cursor_moved.connect(self.cursor_moved)
            view.levels_changed.connect(self._on_levels_dragged)

    def set_volume(self, volume: Volume | None) -> None:
        """Show `volume`: the slices at once, the 3D rendering right after they are painted (building
        it takes longer than the slices; the first slice should not wait for it)."""
        self.volume, self.label = volume, (None, self.label[1])
        for view in self.views.values():
            view.set_volume(volume)
        if volume is None:
            self._render_timer.stop()
            self.crosshair = None
            self.volume_view.set_volume(None)
            return
        self.set_crosshair(tuple(n // 2 for n in volume.spatial_shape))
        self._render_timer.start()

    @property
    def render_pending(self) -> bool:
        """The 3D rendering of the scan shown is still to be built (it follows the slices)."""
        return self._render_timer.isActive()

    def _render(self) -> None:
        if self.volume is not None:
            self.volume_view.set_volume(self.volume, self.levels)
            self.volume_view.set_label(*self.label)

    @property
    def levels(self) -> tuple[float, float]:
        return self.views[AXIAL].levels

    def set_levels(self, low: float, high: float) -> None:
        for view in self.views.values():
            view.set_levels(low, high)
        self.volume_view.set_window(low, high)
        self.levels_changed.emit(low, high)

    def set_colormap(self, name: str) -> None:
        for view in self.views.values():
            view.set_colormap(name)

    def set_label(self, label: Volume | None, opacity: float) -> None:
        self.label = (label, opacity)
        for view in self.views.values():
            view.set_label(label, opacity)
        if self.volume_view.volume is self.volume:
            self.volume_view.set_label(label, opacity)

    def set_crosshair(self, voxel: tuple[int, ...]) -> None:
        if self.volume is None:
            return
        self.crosshair = tuple(int(v) for v in voxel[:3])
        for view in self.views.values():
            view.blockSignals(True)
            view.set_crosshair(self.crosshair)
            view.blockSignals(False)
        self.crosshair_moved.emit(self.crosshair)

    def _on_slice_scrolled(self, view: SliceView, index: int) -> None:
        if self.crosshair is None:
            return
        voxel = list(self.crosshair)
        voxel[VIEW_AXES[view.view]] = index
        self.set_crosshair(tuple(voxel))

    def _on_levels_dragged(self, low: float, high: float) -> None:
        self.set_levels(low, high)
        self.levels_dragged.emit(low, high)
