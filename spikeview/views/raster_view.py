"""Per-layer spike raster: recorded neurons (rows) × timesteps (columns), a time cursor, layer choice,
zoom on neurons with the mouse wheel; clicking a neuron selects it for the membrane traces.

Timesteps up to the cursor are drawn bright, later ones faint, so playing the scrubber animates it.
Time axis (as in every dynamics view): timestep t is drawn at x = t + 1, the "t = 1 ... T" the
scrubber shows. A layer silent at the cursor's timestep says so in the plot.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.probe.recording import LayerRecord, Recording
from spikeview.views.plot_note import PlotNote

NO_RECORDING = "No recording yet: run inference, or train with probes on."

SPIKE_NOW, SPIKE_PAST, SPIKE_LATER = 255, 200, 70


def raster_lookup_table() -> np.ndarray:
    """256 entries: black background, spikes from dim blue (later) to white (now)."""
    ramp = np.linspace(0, 1, 256)[:, None]
    colour = np.array([[0.55, 0.8, 1.0]])
    table = (np.clip(ramp * colour * 1.25, 0, 1) * 255).astype(np.uint8)
    table[SPIKE_NOW] = (255, 255, 255)
    return table


def raster_frame(spikes: np.ndarray, timestep: int) -> np.ndarray:
    """[T, n] spikes → a C-contiguous uint8 image [n, T] with the cursor's column highlighted."""
    image = np.ascontiguousarray(spikes.T, dtype=np.uint8) * np.uint8(SPIKE_LATER)
    image[:, :timestep] = spikes[:timestep].T * np.uint8(SPIKE_PAST)
    image[:, timestep] = spikes[timestep] * np.uint8(SPIKE_NOW)
    return image


def silence(layer: LayerRecord, t: int, name: str) -> str:
    """The sentence for a layer that fired no spike at timestep t (or none at all), else ""."""
    if layer.spikes[t].any():
        return ""
    total = int(layer.spikes.sum())
    if total == 0:
        return f"This layer ({name}) fired no spikes at any timestep for this input."
    return f"This layer ({name}) fired no spikes at t = {t + 1} ({total} spikes at other timesteps)."


class RasterView(QWidget):
    neuron_selected = Signal(str, int)  # layer name, column of the recorded neuron

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recording = None
        self.timestep = 0
        self.layer_box = QComboBox()
        self.layer_box.currentTextChanged.connect(self.set_layer)
        self.info = QLabel("")
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "timestep")
        self.plot.setLabel("left", "neuron (recorded)")
        self.plot.getViewBox().setMouseEnabled(x=False, y=True)  # the wheel zooms into neurons
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(raster_lookup_table())
        self.plot.addItem(self.image)
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#fbbc04", width=2))
        self.plot.addItem(self.cursor)
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.note = PlotNote(self.plot)
        self.note.show(NO_RECORDING)
        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layer_box, 1)
        top.addWidget(self.info)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot)

    @property
    def layer(self) -> LayerRecord | None:
        if self.recording is None:
            return None
        return self.recording.layers.get(self.layer_box.currentText())

    def set_recording(self, recording: Recording | None) -> None:
        previous = self.layer_box.currentText()
        self.recording = recording
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        if recording is not None:
            self.layer_box.addItems(list(recording.layers))
            if previous in recording.layers:
                self.layer_box.setCurrentText(previous)
        self.layer_box.blockSignals(False)
        self.timestep = min(self.timestep, recording.timesteps - 1) if recording is not None else 0
        self.set_layer(self.layer_box.currentText(), autorange=True)

    def set_layer(self, name: str, autorange: bool = True) -> None:
        if name and name != self.layer_box.currentText() and self.layer_box.findText(name) >= 0:
            self.layer_box.setCurrentText(name)  # comes back here through currentTextChanged
            return
        layer = self.layer
        if layer is None:
            self.image.clear()
            self.info.setText("")
            self.note.show(NO_RECORDING if self.recording is None else "This recording has no spiking layers.")
            return
        self.info.setText(f"{layer.spikes.shape[1]} of {int(np.prod(layer.shape))} neurons, "
                          f"{int(layer.spikes.sum())} spikes, rate {layer.firing_rate:.3f}")
        self._draw()
        if autorange:
            self.plot.getViewBox().setRange(xRange=(0.5, layer.spikes.shape[0] + 0.5), yRange=(0, layer.spikes.shape[1]),
                                            padding=0)

    def set_timestep(self, timestep: int) -> None:
        self.timestep = timestep
        self._draw()

    def zoom_neurons(self, first: int, last: int) -> None:
        self.plot.getViewBox().setYRange(first, last, padding=0)

    def _draw(self) -> None:
        layer = self.layer
        if layer is None:
            return
        t = min(self.timestep, layer.spikes.shape[0] - 1)
        steps, neurons = layer.spikes.shape
        self.image.setImage(raster_frame(layer.spikes, t), autoLevels=False, levels=(0, 255),
                            rect=QRectF(0.5, 0, steps, neurons))  # timestep t centred on x = t + 1
        self.cursor.setPos(t + 1)
        self.note.set(silence(layer, t, self.layer_box.currentText()))

    def _on_click(self, event) -> None:
        layer = self.layer
        if layer is None:
            return
        point = self.plot.getViewBox().mapSceneToView(event.scenePos())
        column = int(np.floor(point.y()))
        if 0 <= column < layer.spikes.shape[1]:
            self.neuron_selected.emit(self.layer_box.currentText(), column)
