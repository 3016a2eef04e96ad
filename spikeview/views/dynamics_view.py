"""Spike dynamics of the session's recording: a timestep scrubber driving the raster, membrane traces,
firing rates, accumulated outputs and attention views together, plus the energy of the inference.

It follows `session.recording_changed` and `session.timestep_changed`; the scrubber asks the session
for a timestep. Every view uses one time axis, timestep t at x = t + 1 ("t = 1 ... T" as the
scrubber says). A new recording with no neuron picked shows the most active neuron of the raster's
layer in the membrane tab. Saving the view as PNG (VTK panes included, as on screen) happens here;
saving the recording is asked of the files controller through `save_recording_requested`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton, QTabWidget, QWidget

from engine.probe.recording import RecordingAnalysis
from spikeview.session import Session
from spikeview.views.attention_view import AttentionView
from spikeview.views.energy_view import EnergyView
from spikeview.views.firing_rate_view import FiringRateView
from spikeview.views.layouts import header_and_body
from spikeview.views.output_view import OutputView
from spikeview.views.raster_view import RasterView
from spikeview.views.timestep_scrubber import TimestepScrubber
from spikeview.views.trace_view import TraceView
from spikeview.views.volume_view import grab_with_renderings

NO_RECORDING = "No recording yet: run inference, or train with probes on."


class DynamicsView(QWidget):
    export_failed = Signal(str)
    save_recording_requested = Signal(object)  # Path

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.scrubber = TimestepScrubber()
        self.raster = RasterView()
        self.traces = TraceView()
        self.rates = FiringRateView()
        self.outputs = OutputView()
        self.attention = AttentionView()
        self.energy = EnergyView()
        self.tabs = QTabWidget()
        for widget, title in ((self.raster, "Raster"), (self.traces, "Membrane"), (self.rates, "Firing rates"),
                              (self.outputs, "Outputs"), (self.attention, "Attention"), (self.energy, "Energy")):
            self.tabs.addTab(widget, title)
        self.source_label = QLabel(NO_RECORDING)
        self.source_label.setWordWrap(True)
        png = QPushButton("Save PNG…")
        png.clicked.connect(self.ask_save_png)
        npz = QPushButton("Save recording…")
        npz.clicked.connect(self.ask_save_recording)
        header_and_body(self, [self.source_label, png, npz], [self.scrubber, self.tabs])
        self.scrubber.timestep_changed.connect(session.set_timestep)
        self.raster.neuron_selected.connect(self.traces.add_neuron)
        session.recording_changed.connect(self.show_recording)
        session.timestep_changed.connect(self.show_timestep)
        if session.recording is not None:
            self.show_recording(session.recording, session.recording_source)

    def show_recording(self, analysis: RecordingAnalysis | None, source: str = "") -> None:
        recording = analysis.recording if analysis is not None else None
        self.raster.set_recording(recording)
        self.traces.set_recording(recording)
        for view in (self.rates, self.outputs, self.attention):
            view.set_analysis(analysis)
        if analysis is not None:
            self.energy.set_report(analysis.energy)
            self.scrubber.set_timesteps(recording.timesteps)
            self.source_label.setText(f"{source or 'Recording'}: {len(recording.layers)} spiking layers, "
                                      f"T = {recording.timesteps}")
            if not self.traces.selected:
                self._pick_most_active_neuron()
        else:
            self.source_label.setText(NO_RECORDING)
        self.show_timestep(self.session.timestep)

    def _pick_most_active_neuron(self) -> None:
        """The membrane tab shows a neuron at once: the raster layer's most active recorded one."""
        layer = self.raster.layer
        if layer is None or layer.spikes.shape[1] == 0:
            return
        self.traces.add_neuron(self.raster.layer_box.currentText(), int(np.argmax(layer.spikes.sum(axis=0))))

    def show_timestep(self, timestep: int) -> None:
        self.scrubber.show_timestep(timestep)
        for view in (self.raster, self.traces, self.outputs, self.attention):
            view.set_timestep(timestep)

    # ---- exports ---------------------------------------------------------------------------------
    def current_view_image(self) -> QImage:
        """The visible tab as an image, as on screen (VTK renderings painted in)."""
        return grab_with_renderings(self.tabs.currentWidget())

    def save_png(self, path: Path) -> Path:
        self.current_view_image().save(str(path))
        return Path(path)

    def ask_save_png(self) -> None:
        name = self.tabs.tabText(self.tabs.currentIndex()).lower().replace(" ", "_")
        path, _ = QFileDialog.getSaveFileName(self, "Save view as PNG", f"{name}.png", "PNG (*.png)")
        if path:
            self.save_png(Path(path))

    def ask_save_recording(self) -> None:
        if self.session.recording is None:
            self.export_failed.emit("There is no recording to save yet.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save recording", "recording.npz", "NumPy archive (*.npz)")
        if path:
            self.save_recording_requested.emit(Path(path))
