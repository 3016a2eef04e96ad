"""The session's current scan in the centre of the window: a welcome page, one slice view for 2D
images (and single-slice volumes), or the three orthogonal views with the VTK rendering for 3D
volumes; its label overlay, window/level presets, colours, and the readout under the mouse.

A scan shows with the window the user last chose for it (the session keeps it per file), else its
default preset; a right-drag is a window chosen by hand. Switching scans clears the readout."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QWidget

from spikeview.resources import WindowPreset
from spikeview.session import OpenScan, Session
from spikeview.views.ortho_view import OrthoView
from spikeview.views.slice_view import SliceView

if TYPE_CHECKING:
    from engine.io.volume import Volume

AUTO_PRESET, CT_PRESET = "Auto (1-99 %)", "Soft tissue"


def presets_for(volume: Volume, presets: dict[str, tuple[WindowPreset, ...]]) -> list[WindowPreset]:
    """The window presets that fit a scan: HU presets for CT, then the automatic ones."""
    return (list(presets["CT"]) if volume.modality == "CT" else []) + list(presets["auto"])


def default_preset(volume: Volume) -> str:
    """Soft tissue for a CT in Hounsfield units, else the automatic 1-99 % window."""
    return CT_PRESET if volume.modality == "CT" and volume.intensity_range()[0] < -200 else AUTO_PRESET


def shows_in_3d(volume: Volume) -> bool:
    return volume.spatial_ndim == 3 and min(volume.spatial_shape) > 1


class ScanView(QStackedWidget):
    """Follows `session.current_changed` and `label_changed`; `cursor_text` describes the voxel under the mouse."""

    cursor_text = Signal(str)
    link_activated = Signal(str)  # a link of the welcome page (e.g. "sample": open the sample scan)

    def __init__(self, session: Session, presets: dict[str, tuple[WindowPreset, ...]], welcome: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.presets = session, presets
        self.colormap = "Grey"
        self.welcome = QLabel(welcome)
        self.welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.welcome.linkActivated.connect(self.link_activated)
        self.image_view = SliceView(view=None)
        self.ortho_view = OrthoView()
        for page in (self.welcome, self.image_view, self.ortho_view):
            self.addWidget(page)
        self.image_view.cursor_moved.connect(self._describe_voxel)
        self.ortho_view.cursor_moved.connect(self._describe_voxel)
        self.image_view.levels_changed.connect(self._on_levels_dragged)  # emitted by a right-drag only
        self.ortho_view.levels_dragged.connect(self._on_levels_dragged)
        session.current_changed.connect(self.show_scan)
        session.label_changed.connect(self._show_label)
        self.show_scan(session.current)

    def current_view(self) -> SliceView | OrthoView:
        return self.ortho_view if self.currentWidget() is self.ortho_view else self.image_view

    def show_scan(self, scan: OpenScan | None) -> None:
        self.cursor_text.emit("")  # the readout was of the scan shown before
        if scan is None:
            self.setCurrentWidget(self.welcome)
            self.image_view.set_volume(None)
            self.ortho_view.set_volume(None)
            return
        volume = scan.volume
        if shows_in_3d(volume):
            self.image_view.set_volume(None)
            self.ortho_view.set_volume(volume)
            self.setCurrentWidget(self.ortho_view)
        else:
            self.ortho_view.set_volume(None)
            self.image_view.set_volume(volume, view=None if volume.is_2d else "axial")
            self.setCurrentWidget(self.image_view)
        if not volume.is_rgb:
            if scan.levels is not None:
                self.current_view().set_levels(*scan.levels)
            else:
                self.apply_window_preset(default_preset(volume), remember=False)
        self.set_colormap(self.colormap)
        self._show_label(scan)

    def _show_label(self, scan: OpenScan) -> None:
        if scan is self.session.current:
            self.current_view().set_label(scan.label, scan.label_opacity)

    # ---- display settings ----------------------------------------------------------------------
    def apply_window_preset(self, name: str, remember: bool = True) -> None:
        """Window the current scan with the preset `name` (kept for the scan when `remember`)."""
        scan = self.session.current
        if scan is None or scan.volume.is_rgb:
            return
        preset = next((p for group in self.presets.values() for p in group if p.name == name), None)
        if preset is None:
            return
        if preset.is_auto:
            low, high = scan.volume.percentile_window(preset.low_percentile, preset.high_percentile)
        else:
            low, high = preset.level - preset.window / 2, preset.level + preset.window / 2
        self.current_view().set_levels(low, high)
        self.session.set_window(scan, (low, high), name, remember=remember)

    def _on_levels_dragged(self, low: float, high: float) -> None:
        if self.session.current is not None:
            self.session.set_window(self.session.current, (low, high), "")

    def set_colormap(self, name: str) -> None:
        self.colormap = name
        self.image_view.set_colormap(name)
        self.ortho_view.set_colormap(name)

    def set_render_preset(self, name: str) -> None:
        self.ortho_view.volume_view.set_preset(name)

    # ---- the readout -------------------------------------------------------------------------------
    def _describe_voxel(self, voxel) -> None:
        self.cursor_text.emit(self.voxel_text(voxel))

    def voxel_text(self, voxel) -> str:
        """'voxel (i, j, k) = value    position (x, y, z) mm    label n', or '' outside the scan."""
        scan = self.session.current
        if voxel is None or scan is None or not scan.volume.contains(voxel):
            return ""
        volume = scan.volume
        value = volume.value_at(voxel)
        value_text = ", ".join(f"{v:.5g}" for v in value) if isinstance(value, tuple) else f"{value:.5g}"
        position = ", ".join(f"{p:.1f}" for p in volume.world_position(voxel))
        text = f"voxel ({', '.join(map(str, voxel))}) = {value_text}    position ({position}) mm"
        if scan.label is not None:
            text += f"    label {int(scan.label.array[tuple(voxel)])}"
        return text
