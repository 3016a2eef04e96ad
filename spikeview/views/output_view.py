"""Class scores accumulating over timesteps (from a RecordingAnalysis): the probability of each class if
the network stopped after t steps (lines, at x = t as in every dynamics view), and the bars at the
cursor's timestep, each under its class name (or number, with a key, where the names do not fit)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QWidget

from engine.probe.recording import RecordingAnalysis
from spikeview.views.labels import axis_labels
from spikeview.views.plot_note import PlotNote

CLASS_COLOURS = ("#4fc3f7", "#ff8a65", "#aed581", "#ba68c8", "#fff176", "#f06292", "#4db6ac", "#e0e0e0",
                 "#9575cd", "#ffb74d", "#81c784")


class OutputView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scores: np.ndarray | None = None  # [T, classes]
        self.names: list[str] = []
        self.lines = pg.PlotWidget(title="probability after t timesteps")
        self.lines.setLabel("bottom", "timesteps seen (t)")
        self.lines.setYRange(0, 1)
        self.legend = self.lines.addLegend(offset=(-10, 10))
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#fbbc04", width=2))
        self.lines.addItem(self.cursor)
        self.bars_plot = pg.PlotWidget(title="at the cursor")
        self.bars_plot.setYRange(0, 1)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.bars_plot.addItem(self.bars)
        self.note = PlotNote(self.lines)
        self.note.show("No recording yet: run inference, or train with probes on.")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.lines, 3)
        layout.addWidget(self.bars_plot, 2)

    def set_analysis(self, analysis: RecordingAnalysis | None) -> None:
        for item in list(self.lines.listDataItems()):
            self.lines.removeItem(item)
        self.legend.clear()
        if analysis is None:
            self.scores = None
            self.bars.setOpts(x=[], height=[])
            self.note.show("No recording yet: run inference, or train with probes on.")
            return
        self.note.hide()
        self.scores = analysis.probabilities_over_time
        classes = self.scores.shape[1]
        self.names = analysis.recording.label_names or [str(i) for i in range(classes)]
        steps = np.arange(1, len(self.scores) + 1)  # after t timesteps, t = 1 ... T
        for k in range(classes):
            colour = CLASS_COLOURS[k % len(CLASS_COLOURS)]
            self.lines.plot(steps, self.scores[:, k], pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5,
                            symbolBrush=colour, name=self.names[k])
        ticks, key = axis_labels(self.names, room=36)
        self.bars_plot.getAxis("bottom").setTicks([list(enumerate(ticks))])
        self.bars_plot.setLabel("bottom", key)
        self.set_timestep(0)

    def set_timestep(self, timestep: int) -> None:
        self.cursor.setPos(timestep + 1)
        if self.scores is None:
            return
        row = self.scores[min(timestep, len(self.scores) - 1)]
        brushes = [CLASS_COLOURS[k % len(CLASS_COLOURS)] for k in range(len(row))]
        self.bars.setOpts(x=np.arange(len(row)), height=row, brushes=brushes)
