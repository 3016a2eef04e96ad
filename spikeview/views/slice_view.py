"""One 2D slice of a Volume (or a 2D image) with pyqtgraph: zoom, pan, window/level by
right-drag, label overlay, crosshair, orientation letters at the edges.

Mouse: left-drag pans, wheel zooms 2D images; in slice mode (3D volumes) the wheel scrolls slices,
Ctrl+wheel zooms and a left click moves the crosshair. Right-drag: horizontal = window width,
vertical = level.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.io.volume import AXIAL, VIEW_AXES, Volume
from spikeview.views.colormaps import label_lookup_table, lookup_table

_EDGE_LABEL_STYLE = "color: #fbbc04; font-weight: bold; background: transparent;"
_INFO_STYLE = "color: #e8eaed; background: rgba(0, 0, 0, 110); padding: 1px 4px;"


class _SliceViewBox(pg.ViewBox):
    """ViewBox with right-drag window/level, wheel slice scrolling and click-to-point."""

    def __init__(self, owner: "SliceView") -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.owner = owner

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: N802 - Qt naming
        if self.owner.scrolls_slices and not (ev.modifiers() & Qt.KeyboardModifier.ControlModifier):
            delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
            self.owner.step_slice(1 if delta > 0 else -1)
            ev.accept()
            return
        super().wheelEvent(ev, axis)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            delta = ev.screenPos() - ev.lastScreenPos()
            self.owner.drag_window(delta.x(), delta.y())
            return
        if ev.button() == Qt.MouseButton.LeftButton and self.owner.scrolls_slices and not (
            ev.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            ev.accept()  # in slice mode left-drag moves the crosshair; Shift+drag pans
            self.owner.point_at(self.mapSceneToView(ev.scenePos()))
            return
        super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.owner.point_at(self.mapSceneToView(ev.scenePos()))
            return
        super().mouseClickEvent(ev)


class SliceView(QWidget):
    """Shows `volume.display_slice(view, index)`; `view` None for 2D images."""

    cursor_moved = Signal(object)  # voxel index tuple under the mouse, or None
    pointed = Signal(object)  # voxel index tuple clicked
    slice_changed = Signal(int)
    levels_changed = Signal(float, float)

    def __init__(self, view: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.volume: Volume | None = None
        self.label: Volume | None = None
        self.index = 0
        self.levels = (0.0, 1.0)
        self._pixel = (1.0, 1.0)
        self._build()

    # ---- construction ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.graphics = pg.GraphicsView(background="k")
        self.viewbox = _SliceViewBox(self)
        self.graphics.setCentralItem(self.viewbox)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.label_item = pg.ImageItem(axisOrder="row-major")
        self.label_item.setLookupTable(label_lookup_table())
        self.label_item.setZValue(1)
        self.viewbox.addItem(self.image_item)
        self.viewbox.addItem(self.label_item)
        pen = pg.mkPen((255, 220, 0, 160), width=1, style=Qt.PenStyle.DashLine)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pen)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=pen)
        for line in (self.vline, self.hline):
            line.setZValue(2)
            line.hide()
            self.viewbox.addItem(line, ignoreBounds=True)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.edge_labels = {edge: self._overlay_label(_EDGE_LABEL_STYLE) for edge in ("left", "right", "top", "bottom")}
        self.info_label = self._overlay_label(_INFO_STYLE)
        self.set_colormap("Grey")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)

    def _overlay_label(self, style: str) -> QLabel:
        label = QLabel(self.graphics)
        label.setStyleSheet(style)
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        return label

    @property
    def scrolls_slices(self) -> bool:
        return self.view is not None and self.volume is not None and self.volume.spatial_ndim == 3

    # ---- data ------------------------------------------------------------------------------------
    def set_volume(self, volume: Volume | None, view: str | None = "keep", index: int | None = None) -> None:
        """Show a volume; `view` None for 2D images; `index` defaults to the middle slice."""
        if view != "keep":
            self.view = view
        self.volume, self.label = volume, None
        self.label_item.clear()
        if volume is None:
            self.image_item.clear()
            self._update_overlays()
            return
        if self.scrolls_slices:
            depth = self.slice_count()
            self.index = depth // 2 if index is None else int(np.clip(index, 0, depth - 1))
        else:
            self.index = 0
        if volume.spatial_ndim == 3 and self.view is None:
            self.view = AXIAL  # a volume always needs a slicing direction
        self._pixel = volume.display_pixel_size(self._display_view())
        self.levels = (0.0, 255.0) if volume.is_rgb else volume.percentile_window()
        self._render()
        self.viewbox.autoRange(padding=0.02)

    def slice_count(self) -> int:
        if not self.scrolls_slices:
            return 1
        return self.volume.array.shape[VIEW_AXES[self.view]]

    def set_slice(self, index: int) -> None:
        if self.volume is None:
            return
        index = int(np.clip(index, 0, self.slice_count() - 1))
        if index != self.index:
            self.index = index
            self._render()
            self.slice_changed.emit(index)

    def step_slice(self, step: int) -> None:
        self.set_slice(self.index + step)

    def set_levels(self, low: float, high: float, notify: bool = False) -> None:
        if high <= low:
            high = low + 1e-6
        self.levels = (float(low), float(high))
        if self.volume is not None and not self.volume.is_rgb:
            self.image_item.setLevels(self.levels)
        self._update_info()
        if notify:
            self.levels_changed.emit(*self.levels)

    def set_colormap(self, name: str) -> None:
        self.image_item.setLookupTable(lookup_table(name))

    def set_label(self, label: Volume | None, opacity: float = 0.4) -> None:
        self.label = label
        self.label_item.setOpacity(opacity)
        self._render_label()

    def set_crosshair(self, voxel: tuple[int, ...] | None) -> None:
        """Draw the crosshair through `voxel` (and move to its slice)."""
        if voxel is None or not self.scrolls_slices:
            self.vline.hide()
            self.hline.hide()
            return
        index, row, col = self.volume.voxel_to_screen(self.view, voxel)
        self.set_slice(index)
        self.vline.setPos((col + 0.5) * self._pixel[0])
        self.hline.setPos((row + 0.5) * self._pixel[1])
        self.vline.show()
        self.hline.show()

    # ---- rendering -------------------------------------------------------------------------------
    def current_slice(self) -> np.ndarray:
        return self.volume.display_slice(self._display_view(), self.index)

    def _display_view(self) -> str | None:
        return self.view if self.volume is not None and self.volume.spatial_ndim == 3 else None

    def _render(self) -> None:
        image = self.current_slice()
        rect = QRectF(0, 0, image.shape[1] * self._pixel[0], image.shape[0] * self._pixel[1])
        if self.volume.is_rgb:
            self.image_item.setImage(image, autoLevels=False, levels=(0, 255), lut=None, rect=rect)
        else:
            self.image_item.setImage(image, autoLevels=False, levels=self.levels, rect=rect)
        self._render_label()
        self._update_overlays()

    def _render_label(self) -> None:
        if self.label is None or self.volume is None:
            self.label_item.clear()
            return
        plane = self.label.display_slice(self._display_view(), self.index)
        plane = np.ascontiguousarray(np.clip(plane, 0, 255).astype(np.uint8))
        rect = QRectF(0, 0, plane.shape[1] * self._pixel[0], plane.shape[0] * self._pixel[1])
        self.label_item.setImage(plane, autoLevels=False, levels=(0, 255), rect=rect)

    # ---- mouse -----------------------------------------------------------------------------------
    def drag_window(self, dx: float, dy: float) -> None:
        """Right-drag: dx widens/narrows the window, dy moves the level (down = darker)."""
        if self.volume is None or self.volume.is_rgb:
            return
        low, high = self.levels
        span = max(self.volume.intensity_range()[1] - self.volume.intensity_range()[0], 1e-6)
        step = span / 400.0
        width = max(high - low + dx * step, span / 1000.0)
        level = (low + high) / 2 + dy * step
        self.set_levels(level - width / 2, level + width / 2, notify=True)

    def voxel_at(self, point: QPointF) -> tuple[int, ...] | None:
        """Voxel index under a point in view (millimetre) coordinates, or None outside the image."""
        if self.volume is None:
            return None
        image = self.current_slice()
        row, col = int(np.floor(point.y() / self._pixel[1])), int(np.floor(point.x() / self._pixel[0]))
        if not (0 <= row < image.shape[0] and 0 <= col < image.shape[1]):
            return None
        if self.volume.spatial_ndim == 2:
            return (row, col)
        return self.volume.screen_to_voxel(self.view, self.index, row, col)

    def point_at(self, point: QPointF) -> None:
        voxel = self.voxel_at(point)
        if voxel is not None:
            self.pointed.emit(voxel)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        self.cursor_moved.emit(self.voxel_at(self.viewbox.mapSceneToView(scene_pos)))

    # ---- overlays --------------------------------------------------------------------------------
    def _update_overlays(self) -> None:
        labels = self.volume.slice_edge_labels(self.view) if self.volume is not None and self.scrolls_slices else {}
        for edge, widget in self.edge_labels.items():
            widget.setText(labels.get(edge, ""))
            widget.adjustSize()
            widget.setVisible(bool(labels.get(edge)))
        self._update_info()
        self._place_overlays()

    def _update_info(self) -> None:
        if self.volume is None:
            self.info_label.hide()
            return
        parts = []
        if self.scrolls_slices:
            parts.append(f"{self.view} {self.index + 1}/{self.slice_count()}")
        if not self.volume.is_rgb:
            low, high = self.levels
            parts.append(f"W {high - low:.4g}  L {(low + high) / 2:.4g}")
        self.info_label.setText("   ".join(parts))
        self.info_label.adjustSize()
        self.info_label.show()
        self._place_overlays()

    def _place_overlays(self) -> None:
        w, h = self.graphics.width(), self.graphics.height()
        left, right, top, bottom = (self.edge_labels[k] for k in ("left", "right", "top", "bottom"))
        left.move(4, (h - left.height()) // 2)
        right.move(w - right.width() - 4, (h - right.height()) // 2)
        top.move((w - top.width()) // 2, 2)
        bottom.move((w - bottom.width()) // 2, h - bottom.height() - 2)
        self.info_label.move(4, h - self.info_label.height() - 2 - (bottom.height() if bottom.isVisible() else 0))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._place_overlays()
