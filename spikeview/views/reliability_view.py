"""Calibration of the run behind an inference: its reliability diagram on the test split (accuracy
against confidence per bin, before and after temperature scaling, with the diagonal of a perfectly
calibrated model), its expected calibration error before and after, and the prediction's confidence
before and after. Fed an engine `Calibration` (a run's calibration.json); None says the run has none."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.runs.calibration import Calibration, ReliabilityBins

BEFORE, AFTER = "#9e9e9e", "#4fc3f7"
NO_CALIBRATION = "This run has no calibration (it was trained before runs were calibrated)."
EMPTY = "The run's calibration is shown with an inference's answer."


def _bar_geometry(bins: ReliabilityBins) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres, widths and heights (accuracy; empty bins 0) of a diagram's bars."""
    edges = np.asarray(bins.edges, dtype=float)
    accuracy = np.nan_to_num(np.asarray(bins.accuracy, dtype=float))
    return (edges[:-1] + edges[1:]) / 2, np.diff(edges), accuracy


class ReliabilityView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.calibration: Calibration | None = None
        self.summary = QLabel(EMPTY)
        self.summary.setWordWrap(True)
        self.plot = pg.PlotWidget(title="reliability (test split)")
        self.plot.setXRange(0, 1)
        self.plot.setYRange(0, 1)
        self.plot.setLabel("bottom", "confidence")
        self.plot.setLabel("left", "accuracy")
        self.plot.addLegend(offset=(10, 10))
        self.plot.plot([0, 1], [0, 1], pen=pg.mkPen("#fbbc04", style=pg.QtCore.Qt.PenStyle.DashLine),
                       name="perfect calibration")
        self.before = pg.BarGraphItem(x=[], height=[], width=0.05, brush=BEFORE, name="before")
        self.after = pg.BarGraphItem(x=[], height=[], width=0.05, brush=AFTER, name="after")
        for item in (self.before, self.after):
            self.plot.addItem(item)
            self.plot.plotItem.legend.addItem(item, item.opts["name"])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.plot, 1)

    def clear(self) -> None:
        """No inference shown: no diagram."""
        self.show_calibration(None)
        self.summary.setText(EMPTY)

    def show_calibration(self, calibration: Calibration | None, confidence: float = math.nan,
                         calibrated_confidence: float = math.nan) -> None:
        """A run's calibration and, when given, the current prediction's confidence before and after."""
        self.calibration = calibration
        if calibration is None:
            self.summary.setText(NO_CALIBRATION)
            for item in (self.before, self.after):
                item.setOpts(x=[], height=[], width=[])
            return
        for item, key, shift in ((self.before, "before", -0.25), (self.after, "after", 0.25)):
            bins = calibration.reliability.get(key)
            if bins is None:
                item.setOpts(x=[], height=[], width=[])
                continue
            centres, widths, heights = _bar_geometry(bins)
            item.setOpts(x=centres + shift * widths, height=heights, width=widths * 0.45)
        test = calibration.ece.get("test", {})
        text = (f"Temperature {calibration.temperature:.2f} (fitted on {calibration.fitted_on}); "
                f"test ECE {test.get('before', math.nan):.3f} → {test.get('after', math.nan):.3f}")
        if math.isfinite(confidence) and math.isfinite(calibrated_confidence):
            text += f"<br>This prediction: {confidence:.1%} → <b>{calibrated_confidence:.1%}</b> calibrated"
        self.summary.setText(text)
