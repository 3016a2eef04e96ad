"""A training run's curves: loss per batch and per epoch, ACC/AUC per epoch (val solid, train dashed),
and the latest epoch's confusion matrix and ROC curves on `val`, fed metrics rows and `EpochCurves`.

One x axis, "epochs done": batch losses of the first epoch lie between 0 and 1, the first epoch's
row at 1, and "epoch 1" in the header and the titles is that first epoch. Every plot says in a
sentence what it is waiting for while it has nothing to draw."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from spikeview.views.colormaps import lookup_table
from spikeview.views.labels import axis_labels
from spikeview.views.plot_note import PlotNote

CURVE_PENS = {"train loss": "#4fc3f7", "val loss": "#ff8a65", "val ACC": "#aed581", "val AUC": "#ba68c8",
              "train ACC": "#558b2f", "train AUC": "#6a1b9a"}
ROC_COLOURS = list(CURVE_PENS.values()) + ["#fff176", "#f06292", "#4db6ac", "#e0e0e0"]
MAX_CONFUSION_LABELS = 121  # cells numbered up to 11 x 11 classes
MIN_PLOT_HEIGHT = 120  # below it the axes' numbers overlap; a shorter dock scrolls instead


class TrainingCurvesView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[dict] = []
        self.batch_steps: list[int] = []
        self.batch_losses: list[float] = []
        self.steps_per_epoch = 1
        self.loss_plot = pg.PlotWidget(title="loss")
        self.loss_plot.setLabel("bottom", "epochs done")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.batch_curve = self.loss_plot.plot(pen=pg.mkPen("#4fc3f755", width=1), name="train loss (batches)")
        self.curves = {name: self._epoch_curve(self.loss_plot, name) for name in ("train loss", "val loss")}
        self.metric_plot = pg.PlotWidget(title="ACC / AUC (train: dashed)")
        self.metric_plot.setLabel("bottom", "epochs done")
        self.metric_plot.setYRange(0, 1)
        self.metric_plot.addLegend(offset=(-10, -10))
        for name in ("val ACC", "val AUC"):
            self.curves[name] = self._epoch_curve(self.metric_plot, name)
        for name in ("train ACC", "train AUC"):
            pen = pg.mkPen(CURVE_PENS[name], width=2, style=Qt.PenStyle.DashLine)
            self.curves[name] = self.metric_plot.plot(pen=pen, name=name)
        self._build_confusion()
        self.roc_plot = pg.PlotWidget(title="ROC (val)")
        self.roc_plot.setLabel("bottom", "false positive rate")
        self.roc_plot.setLabel("left", "true positive rate")
        self.roc_plot.setRange(xRange=(0, 1), yRange=(0, 1))
        self.roc_legend = self.roc_plot.addLegend(offset=(-10, -10))
        for plot in (self.loss_plot, self.metric_plot, self.confusion_plot, self.roc_plot):
            plot.setMinimumHeight(MIN_PLOT_HEIGHT)
            for side in ("bottom", "left"):
                plot.getAxis(side).enableAutoSIPrefix(False)  # no "(x0.001)" on a fraction of an epoch
        self.empty_notes = {plot: PlotNote(plot) for plot in
                            (self.loss_plot, self.metric_plot, self.confusion_plot, self.roc_plot)}
        self.empty_texts = dict((
            (self.loss_plot, "The loss of each batch appears here once a run starts."),
            (self.metric_plot, "Validation ACC and AUC appear after the first epoch."),
            (self.confusion_plot, "The confusion matrix on val appears after the first epoch."),
            (self.roc_plot, "ROC curves on val appear after the first epoch.")))
        self.throughput = QLabel("")
        self._update_notes()
        grid = QGridLayout()
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.metric_plot, 0, 1)
        grid.addWidget(self.confusion_plot, 1, 0)
        grid.addWidget(self.roc_plot, 1, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.throughput)
        column.addLayout(grid, 1)

    def _update_notes(self) -> None:
        has = {self.loss_plot: bool(self.batch_steps or self.rows), self.metric_plot: bool(self.rows),
               self.confusion_plot: self.confusion_image.image is not None,
               self.roc_plot: bool(self.roc_plot.listDataItems())}
        for plot, note in self.empty_notes.items():
            note.set("" if has[plot] else self.empty_texts[plot])
            legend = plot.getPlotItem().legend
            if legend is not None:
                legend.setVisible(has[plot])  # an empty plot's legend would cover its sentence

    @staticmethod
    def _epoch_curve(plot: pg.PlotWidget, name: str):
        return plot.plot(pen=pg.mkPen(CURVE_PENS[name], width=2), symbol="o", symbolSize=6, name=name)

    def _build_confusion(self) -> None:
        self.confusion_plot = pg.PlotWidget(title="confusion (val)")
        self.confusion_plot.invertY(True)
        self.confusion_plot.setLabel("left", "true")
        self.confusion_plot.setLabel("bottom", "predicted")
        self.confusion_image = pg.ImageItem(axisOrder="row-major")
        self.confusion_image.setLookupTable(lookup_table("Viridis"))
        self.confusion_plot.addItem(self.confusion_image)
        self.confusion_texts: list[pg.TextItem] = []

    # ---- data ------------------------------------------------------------------------------------
    def clear(self) -> None:
        self.rows, self.batch_steps, self.batch_losses = [], [], []
        self.batch_curve.setData([], [])
        for curve in self.curves.values():
            curve.setData([], [])
        self.throughput.setText("")
        self._clear_confusion()
        self._clear_roc()
        self.confusion_plot.setTitle("confusion (val)")
        for side in ("left", "bottom"):
            self.confusion_plot.getAxis(side).setTicks(None)
        self.confusion_plot.setLabel("bottom", "predicted")
        self._update_notes()

    def show_rows(self, rows: list[dict]) -> None:
        """The epochs so far (metrics.jsonl rows), replacing those shown; epoch e's row at x = e + 1."""
        self.rows = list(rows)
        epochs = [row["epoch"] + 1 for row in self.rows]
        for name, curve in self.curves.items():  # "val ACC" plots the row's "val_acc"
            key = name.replace(" ", "_").lower()
            curve.setData(epochs, [row.get(key, float("nan")) for row in self.rows])
        self._update_notes()

    def add_row(self, row: dict) -> None:
        self.show_rows(self.rows + [row])

    def add_batch(self, step: int, loss: float, throughput: str) -> None:
        self.batch_steps.append(step)
        self.batch_losses.append(loss)
        self.batch_curve.setData(np.asarray(self.batch_steps) / self.steps_per_epoch, self.batch_losses)
        self.throughput.setText(throughput)
        if len(self.batch_steps) == 1:
            self._update_notes()

    def show_curves(self, curves) -> None:
        """Draw an `engine.learning.curves.EpochCurves` (confusion matrix and ROC)."""
        matrix = np.asarray(curves.confusion.matrix, dtype=np.float64)
        scaled = matrix / max(matrix.max(), 1)
        self.confusion_image.setImage(np.ascontiguousarray(np.round(scaled * 255), dtype=np.uint8),
                                      autoLevels=False, levels=(0, 255))
        self._clear_confusion(image=False)
        if matrix.size <= MAX_CONFUSION_LABELS:
            for (row, col), value in np.ndenumerate(matrix):
                text = pg.TextItem(str(int(value)), color="w" if scaled[row, col] < 0.6 else "k", anchor=(0.5, 0.5))
                text.setPos(col + 0.5, row + 0.5)
                self.confusion_plot.addItem(text)
                self.confusion_texts.append(text)
        rows, row_key = axis_labels(curves.confusion.row_names)
        cols, col_key = axis_labels(curves.confusion.col_names)
        self.confusion_plot.getAxis("left").setTicks([[(i + 0.5, name) for i, name in enumerate(rows)]])
        self.confusion_plot.getAxis("bottom").setTicks([[(i + 0.5, name) for i, name in enumerate(cols)]])
        key = row_key if row_key == col_key else "   ".join(k for k in (row_key, col_key) if k)
        self.confusion_plot.setLabel("bottom", f"predicted   ({key})" if key else "predicted")
        self.confusion_plot.setTitle(f"confusion (val, epoch {curves.epoch + 1})")
        self._clear_roc()
        self.roc_plot.plot([0, 1], [0, 1], pen=pg.mkPen("#777", style=Qt.PenStyle.DashLine))
        for i, roc in enumerate(curves.roc):
            self.roc_plot.plot(roc.fpr, roc.tpr, pen=pg.mkPen(ROC_COLOURS[i % len(ROC_COLOURS)], width=2),
                               name=f"{roc.name} AUC {roc.auc:.2f}")
        self._update_notes()

    def _clear_confusion(self, image: bool = True) -> None:
        if image:
            self.confusion_image.clear()
        for text in self.confusion_texts:
            self.confusion_plot.removeItem(text)
        self.confusion_texts = []

    def _clear_roc(self) -> None:
        for item in list(self.roc_plot.listDataItems()):
            self.roc_plot.removeItem(item)
        self.roc_legend.clear()
