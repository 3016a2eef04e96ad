"""Membrane potential traces of the neurons picked in the raster, with the threshold and reset
levels marked, spikes as dots and the time cursor (timestep t at x = t + 1, as in the raster).
With none picked, the plot says how to pick one."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from engine.probe.recording import Recording
from spikeview.views.layouts import header_and_body
from spikeview.views.plot_note import PlotNote

MAX_TRACES = 6
PICK_HINT = "Click a neuron in the raster to plot its membrane potential here."
TRACE_COLOURS = ("#4fc3f7", "#ff8a65", "#aed581", "#ba68c8", "#fff176", "#f06292")


class TraceView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recording = None
        self.selected: list[tuple[str, int]] = []  # (layer, recorded neuron column)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "timestep")
        self.plot.setLabel("left", "membrane potential v[t] (after reset)")
        self.legend = self.plot.addLegend(offset=(-10, 10))
        # the two labels at opposite ends of their lines, so they never overlap when the levels are close
        self.threshold_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#e53935", width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine),
                                              label="threshold", labelOpts={"position": 0.92, "color": "#e53935",
                                                                            "anchors": [(0.5, 1.0), (0.5, 1.0)]})
        self.reset_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#9e9e9e", width=1.5, style=pg.QtCore.Qt.PenStyle.DotLine),
                                          label="reset", labelOpts={"position": 0.08, "color": "#9e9e9e",
                                                                    "anchors": [(0.5, 0.0), (0.5, 0.0)]})
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#fbbc04", width=2))
        for item in (self.threshold_line, self.reset_line, self.cursor):
            self.plot.addItem(item)
        self.note = PlotNote(self.plot)
        self.hint = QLabel(PICK_HINT)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear_neurons)
        header_and_body(self, [self.hint, clear], [self.plot], margin=0)
        self._draw()

    def set_recording(self, recording: Recording | None) -> None:
        self.recording = recording
        if recording is None:
            self.selected = []
        else:
            self.selected = [(l, c) for l, c in self.selected if l in recording.layers
                             and c < recording.layers[l].spikes.shape[1]]
        self._draw()

    def add_neuron(self, layer: str, column: int) -> None:
        if (layer, column) in self.selected:
            return
        self.selected = (self.selected + [(layer, column)])[-MAX_TRACES:]
        self._draw()

    def clear_neurons(self) -> None:
        self.selected = []
        self._draw()

    def set_timestep(self, timestep: int) -> None:
        self.cursor.setPos(timestep + 1)

    def _draw(self) -> None:
        for item in list(self.plot.listDataItems()):
            self.plot.removeItem(item)
        self.legend.clear()
        if self.recording is None or not self.selected:
            self.note.show("No recording yet: run inference, or train with probes on." if self.recording is None
                           else PICK_HINT)
            self.hint.setText(PICK_HINT)
            for line in (self.threshold_line, self.reset_line):
                line.hide()
            return
        self.note.hide()
        for line in (self.threshold_line, self.reset_line):
            line.show()
        for colour, (name, column) in zip(TRACE_COLOURS, self.selected):
            self._draw_neuron(name, column, colour)
        last = self.recording.layers[self.selected[-1][0]]
        self.threshold_line.setPos(last.v_threshold)
        self.reset_line.setPos(last.v_reset)
        self.hint.setText(f"{len(self.selected)} neuron(s), click more in the raster; "
                          f"threshold {last.v_threshold:g}, reset {last.v_reset:g}")

    def _draw_neuron(self, name: str, column: int, colour: str) -> None:
        layer = self.recording.layers[name]
        steps = np.arange(1, layer.spikes.shape[0] + 1)  # timestep t at x = t + 1
        flat = int(layer.neuron_index[column])
        label = f"{name} #{flat}"
        if layer.membrane is not None:
            self.plot.plot(steps, layer.membrane[:, column], pen=pg.mkPen(colour, width=2), symbol="o",
                           symbolSize=5, symbolBrush=colour, name=label)
        fired = np.flatnonzero(layer.spikes[:, column]) + 1
        if len(fired):
            self.plot.plot(fired, np.full(len(fired), layer.v_threshold), pen=None, symbol="t1", symbolSize=12,
                           symbolBrush=colour, name=None if layer.membrane is not None else label)
