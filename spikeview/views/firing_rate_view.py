"""Firing rates of a RecordingAnalysis: a layers × channels heatmap (dead channels marked ×, saturated
ones ○) and a table per layer with its mean rate and how many recorded neurons never fired or fired at
every step."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget
from PySide6.QtCore import Qt

from engine.probe.recording import RecordingAnalysis

TABLE_COLUMNS = ("layer", "mean rate", "dead", "saturated", "recorded")


def rate_image(matrix: np.ndarray) -> np.ndarray:
    """Rates in [0, 1] → C-contiguous uint8 1..255; 0 marks padding (NaN: a layer with fewer channels)."""
    image = 1 + np.round(np.nan_to_num(matrix, nan=0.0) * 254)
    image[np.isnan(matrix)] = 0
    return np.ascontiguousarray(image, dtype=np.uint8)


def rate_lookup_table() -> np.ndarray:
    """256 RGBA entries: 0 transparent (padding), 1..255 viridis over rates 0..1."""
    table = np.zeros((256, 4), dtype=np.uint8)
    table[1:, :3] = pg.colormap.get("viridis").getLookupTable(nPts=255, alpha=False)
    table[1:, 3] = 255
    return table


class FiringRateView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "channel")
        self.plot.setLabel("left", "layer")
        self.plot.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(rate_lookup_table())
        self.plot.addItem(self.image)
        self.dead_marks = pg.ScatterPlotItem(symbol="x", size=7, pen=pg.mkPen("#ff5252", width=1.5), brush=None)
        self.saturated_marks = pg.ScatterPlotItem(symbol="o", size=7, pen=pg.mkPen("#ffffff", width=1.5), brush=None)
        self.plot.addItem(self.dead_marks)
        self.plot.addItem(self.saturated_marks)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"), label="rate", interactive=False)
        self.plot.getPlotItem().layout.addItem(self.colorbar, 2, 5)  # a legend only: the image keeps its own table
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(TABLE_COLUMNS))
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.plot)
        splitter.addWidget(self.table)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def set_analysis(self, analysis: RecordingAnalysis | None) -> None:
        self.table.setRowCount(0)
        if analysis is None or not analysis.layer_names:
            self.image.clear()
            self.dead_marks.clear()
            self.saturated_marks.clear()
            return
        self.image.setImage(rate_image(analysis.channel_rates), autoLevels=False, levels=(0, 255))
        self._mark(analysis.channel_rates)
        ticks = [(row + 0.5, name) for row, name in enumerate(analysis.layer_names)]
        self.plot.getAxis("left").setTicks([ticks])
        self._fill_table(analysis)

    def _mark(self, matrix: np.ndarray) -> None:
        rows, cols = np.nonzero(matrix == 0.0)
        self.dead_marks.setData(cols + 0.5, rows + 0.5)
        rows, cols = np.nonzero(matrix == 1.0)
        self.saturated_marks.setData(cols + 0.5, rows + 0.5)

    def _fill_table(self, analysis: RecordingAnalysis) -> None:
        self.table.setRowCount(len(analysis.layer_names))
        for row, (name, layer) in enumerate(analysis.recording.layers.items()):
            rates = analysis.neuron_rates[name]
            values = (name, f"{layer.firing_rate:.3f}", str(rates.dead_count), str(rates.saturated_count),
                      str(len(rates.rates)))
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col == 2 and rates.dead_count == len(rates.rates):
                    item.setForeground(pg.mkColor("#ff5252"))
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
