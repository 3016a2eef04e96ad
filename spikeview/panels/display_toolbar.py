"""The view toolbar: window/level preset, colour map, 3D rendering preset and label-overlay opacity.

It lists the presets that fit the session's current scan and shows the window the scan has: a
preset's name, or "Custom (W … L …)" after a right-drag; choosing one is a request to the scan view
(`preset_chosen`, `colormap_chosen`, `render_chosen`), and the opacity goes into the session.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QSlider, QToolBar, QWidget

from spikeview.resources import WindowPreset
from spikeview.session import OpenScan, Session
from spikeview.views.colormaps import COLORMAPS
from spikeview.views.scan_view import presets_for
from spikeview.views.volume_view import RENDER_PRESETS, default_render_preset


class DisplayToolbar(QToolBar):
    preset_chosen = Signal(str)
    colormap_chosen = Signal(str)
    render_chosen = Signal(str)

    def __init__(self, session: Session, presets: dict[str, tuple[WindowPreset, ...]],
                 parent: QWidget | None = None) -> None:
        super().__init__("View", parent)
        self.setObjectName("ViewToolbar")
        self.session, self.presets = session, presets
        self.preset_box = QComboBox()
        self.preset_box.setMinimumWidth(160)
        self.preset_box.activated.connect(lambda _i: self.preset_chosen.emit(self.preset_box.currentText()))
        self.colormap_box = QComboBox()
        self.colormap_box.addItems(list(COLORMAPS))
        self.colormap_box.currentTextChanged.connect(self.colormap_chosen)
        self.render_box = QComboBox()
        self.render_box.addItems(list(RENDER_PRESETS))
        self.render_box.activated.connect(lambda _i: self.render_chosen.emit(self.render_box.currentText()))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(40)
        self.opacity_slider.setMaximumWidth(120)
        self.opacity_slider.valueChanged.connect(self._on_opacity_changed)
        for text, widget in (("Window ", self.preset_box), (" Colours ", self.colormap_box),
                             (" 3D ", self.render_box), (" Label opacity ", self.opacity_slider)):
            self.addWidget(QLabel(text))
            self.addWidget(widget)
        session.current_changed.connect(self.show_scan)
        session.label_changed.connect(self._show_opacity)
        session.window_changed.connect(self._show_window)
        self.show_scan(session.current)

    def show_scan(self, scan: OpenScan | None) -> None:
        if scan is None:
            return
        volume = scan.volume
        self.preset_box.clear()
        self.preset_box.addItems([preset.name for preset in presets_for(volume, self.presets)])
        self._show_window(scan)
        self.preset_box.setEnabled(not volume.is_rgb)
        self.colormap_box.setEnabled(not volume.is_rgb)
        self.render_box.setCurrentText(default_render_preset(volume))
        self._show_opacity(scan)

    def _show_window(self, scan: OpenScan) -> None:
        """The scan's preset, or a "Custom" entry with its numbers when it was set by hand."""
        if scan is not self.session.current or scan.levels is None:
            return
        custom = self.preset_box.findText("Custom", Qt.MatchFlag.MatchStartsWith)
        if custom >= 0:
            self.preset_box.removeItem(custom)
        if scan.window_name and self.preset_box.findText(scan.window_name) >= 0:
            self.preset_box.setCurrentText(scan.window_name)
            return
        low, high = scan.levels
        self.preset_box.addItem(f"Custom (W {high - low:.4g}  L {(low + high) / 2:.4g})")
        self.preset_box.setCurrentIndex(self.preset_box.count() - 1)

    def _show_opacity(self, scan: OpenScan) -> None:
        if scan is self.session.current:
            self.opacity_slider.blockSignals(True)
            self.opacity_slider.setValue(round(scan.label_opacity * 100))
            self.opacity_slider.blockSignals(False)

    def _on_opacity_changed(self, value: int) -> None:
        if self.session.current is not None:
            self.session.set_label_opacity(self.session.current, value / 100)
