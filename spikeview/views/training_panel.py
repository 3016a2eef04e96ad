"""Training from the app: the run settings, start / cancel / resume, and live progress (ETA,
images/s), loss and ACC/AUC curves, and each epoch's confusion matrix and ROC curves.

The work runs in a `jobs.TrainJob`; this panel only turns its signals into plots. Past runs are
shown with `show_run` (curves from metrics.jsonl).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
    QProgressBar, QPushButton, QVBoxLayout, QWidget,
)

from engine.data.catalog import list_datasets
from engine.learning.config import TrainConfig
from engine.models import list_models
from engine.runs.listing import new_run_path, write_metrics_csv
from engine.runs.rundir import RunDir
from spikeview.jobs import JobRunner, TrainJob
from spikeview.session import Session
from spikeview.views.forms import settings_column, spin_box
from spikeview.views.colormaps import lookup_table

log = logging.getLogger(__name__)

SIZES = ("28", "64", "128", "224")
CURVE_PENS = {"train loss": "#4fc3f7", "val loss": "#ff8a65", "val ACC": "#aed581", "val AUC": "#ba68c8",
              "train ACC": "#558b2f", "train AUC": "#6a1b9a"}


def format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TrainingPanel(QWidget):
    probe_recorded = Signal(object)  # Recording
    run_started = Signal(object)  # Path
    run_ended = Signal(object, str)  # Path, "finished" | "cancelled" | "failed"
    error = Signal(str)

    def __init__(self, session: Session, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.runner = runner
        self.job: TrainJob | None = None
        self.run_path: Path | None = None
        self.rows: list[dict] = []
        self.batch_steps: list[int] = []
        self.batch_losses: list[float] = []
        self.steps_per_epoch = 1
        layout = QHBoxLayout(self)
        layout.addWidget(self._build_form(), 0)
        layout.addWidget(self._build_plots(), 1)
        self._set_running(False)

    # ---- construction ----------------------------------------------------------------------------
    def _build_form(self) -> QWidget:
        self.dataset_box = QComboBox()
        self.dataset_box.addItems(list_datasets())
        self.size_box = QComboBox()
        self.size_box.addItems(list(SIZES))
        self.model_box = QComboBox()
        self.model_box.addItems(list_models())
        self.timesteps_spin = spin_box(1, 64, 4)
        self.epochs_spin = spin_box(1, 1000, 10)
        self.batch_spin = spin_box(1, 4096, 64)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(1e-5, 1.0)
        self.lr_spin.setSingleStep(1e-4)
        self.lr_spin.setValue(2e-3)
        self.loss_box = QComboBox()
        self.loss_box.addItems(["tet", "ce"])
        self.device_box = QComboBox()
        self.device_box.addItems(["auto", "cpu", "cuda"])
        cuda = torch.cuda.is_available()
        self.cuda_label = QLabel(f"CUDA: {torch.cuda.get_device_name(0)}" if cuda else "CUDA: not available (CPU)")
        self.limit_spin = spin_box(0, 10_000_000, 0)
        self.limit_spin.setSpecialValueText("all")
        self.probe_spin = spin_box(0, 100_000, 20)
        self.probe_spin.setSpecialValueText("never")
        form = QFormLayout()
        for text, widget in (("Dataset", self.dataset_box), ("Size", self.size_box), ("Model", self.model_box),
                             ("Timesteps", self.timesteps_spin), ("Epochs", self.epochs_spin),
                             ("Batch size", self.batch_spin), ("Learning rate", self.lr_spin), ("Loss", self.loss_box),
                             ("Device", self.device_box), ("", self.cuda_label), ("Train samples", self.limit_spin),
                             ("Probe every N steps", self.probe_spin)):
            form.addRow(text, widget)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button = QPushButton("Resume run")
        self.resume_button.clicked.connect(lambda: self.resume())
        self.csv_button = QPushButton("Metrics CSV…")
        self.csv_button.clicked.connect(self.ask_export_csv)
        buttons = QGridLayout()
        for i, button in enumerate((self.start_button, self.cancel_button, self.resume_button, self.csv_button)):
            buttons.addWidget(button, i // 2, i % 2)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("idle")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        box = QGroupBox("Run")
        settings_column(box, form, buttons, self.progress, self.status)
        box.setMaximumWidth(330)
        return box

    def _build_plots(self) -> QWidget:
        self.loss_plot = pg.PlotWidget(title="loss")
        self.loss_plot.setLabel("bottom", "epoch")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.batch_curve = self.loss_plot.plot(pen=pg.mkPen("#4fc3f755", width=1), name="train loss (batches)")
        self.curves = {"train loss": self.loss_plot.plot(pen=pg.mkPen(CURVE_PENS["train loss"], width=2), symbol="o", symbolSize=6, name="train loss"),
                       "val loss": self.loss_plot.plot(pen=pg.mkPen(CURVE_PENS["val loss"], width=2), symbol="o", symbolSize=6, name="val loss")}
        self.metric_plot = pg.PlotWidget(title="ACC / AUC (train: dashed)")
        self.metric_plot.setLabel("bottom", "epoch")
        self.metric_plot.setYRange(0, 1)
        self.metric_plot.addLegend(offset=(-10, -10))
        for name in ("val ACC", "val AUC"):
            self.curves[name] = self.metric_plot.plot(pen=pg.mkPen(CURVE_PENS[name], width=2), symbol="o", symbolSize=6, name=name)
        for name in ("train ACC", "train AUC"):
            pen = pg.mkPen(CURVE_PENS[name], width=2, style=Qt.PenStyle.DashLine)
            self.curves[name] = self.metric_plot.plot(pen=pen, name=name)
        self.confusion_plot = pg.PlotWidget(title="confusion (val)")
        self.confusion_plot.invertY(True)
        self.confusion_plot.setLabel("left", "true")
        self.confusion_plot.setLabel("bottom", "predicted")
        self.confusion_image = pg.ImageItem(axisOrder="row-major")
        self.confusion_image.setLookupTable(lookup_table("Viridis"))
        self.confusion_plot.addItem(self.confusion_image)
        self.confusion_texts: list[pg.TextItem] = []
        self.roc_plot = pg.PlotWidget(title="ROC (val)")
        self.roc_plot.setLabel("bottom", "false positive rate")
        self.roc_plot.setLabel("left", "true positive rate")
        self.roc_plot.setRange(xRange=(0, 1), yRange=(0, 1))
        self.roc_legend = self.roc_plot.addLegend(offset=(-10, -10))
        self.throughput = QLabel("")
        grid = QGridLayout()
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.metric_plot, 0, 1)
        grid.addWidget(self.confusion_plot, 1, 0)
        grid.addWidget(self.roc_plot, 1, 1)
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.throughput)
        column.addLayout(grid, 1)
        return holder

    # ---- settings --------------------------------------------------------------------------------
    def config(self) -> TrainConfig:
        return TrainConfig(
            dataset=self.dataset_box.currentText(), size=int(self.size_box.currentText()),
            data_root=str(self.session.data_root), model=self.model_box.currentText(),
            timesteps=self.timesteps_spin.value(), epochs=self.epochs_spin.value(),
            batch_size=self.batch_spin.value(), lr=self.lr_spin.value(), loss=self.loss_box.currentText(),
            device=self.device_box.currentText(), train_limit=self.limit_spin.value() or None,
            probe_every=self.probe_spin.value(),
        )

    def set_config(self, config: TrainConfig) -> None:
        self.dataset_box.setCurrentText(config.dataset)
        self.size_box.setCurrentText(str(config.size))
        self.model_box.setCurrentText(config.model)
        self.timesteps_spin.setValue(config.timesteps)
        self.epochs_spin.setValue(config.epochs)
        self.batch_spin.setValue(config.batch_size)
        self.lr_spin.setValue(config.lr)
        self.loss_box.setCurrentText(config.loss)
        self.limit_spin.setValue(config.train_limit or 0)
        self.probe_spin.setValue(config.probe_every)

    # ---- running ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.done

    def start(self, config: TrainConfig | None = None, run_path: Path | None = None) -> TrainJob | None:
        if config is None:
            config = self.config()
        else:
            self.set_config(config)
        path = run_path or new_run_path(self.session.runs_folder, config.dataset, config.model)
        return self._launch(TrainJob(config, path))

    def resume(self, run_path: Path | None = None) -> TrainJob | None:
        path = Path(run_path or self.run_path or "")
        if not run_path and self.run_path is None:
            self.error.emit("Pick a run in the runs list to resume it.")
            return None
        config = self.config()
        return self._launch(TrainJob(config, path, resume=True))

    def _launch(self, job: TrainJob) -> TrainJob | None:
        if self.running:
            self.error.emit("A training run is already in progress; cancel it first.")
            return None
        self.clear_curves()
        if job.resume:
            self._show_rows(RunDir(job.run_dir).read_metrics())
        self.job, self.run_path = job, Path(job.run_dir)
        job.started.connect(self._on_started)
        job.batch.connect(self._on_batch)
        job.epoch_done.connect(self._on_epoch)
        job.curves.connect(self.show_curves)
        job.probe.connect(self.probe_recorded)
        job.succeeded.connect(lambda summary: self._on_ended(job, "finished", summary))
        job.cancelled_.connect(lambda: self._on_ended(job, "cancelled"))
        job.failed.connect(lambda message: self._on_failed(job, message))
        self._set_running(True)
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.status.setText(f"Run folder: {job.run_dir}")
        self.runner.submit(job)
        self.run_started.emit(self.run_path)
        return job

    def cancel(self) -> None:
        if self.running:
            self.job.cancel()
            self.progress.setFormat("cancelling…")

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.resume_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _on_started(self, info: dict) -> None:
        self.steps_per_epoch = max(1, info["total_steps"] // max(self.job.trainer.config.epochs, 1))
        self.status.setText(f"{info.get('parameters', 0):,} parameters on {info.get('device', '?')}\n{self.run_path}")

    def _on_batch(self, info: dict) -> None:
        self.progress.setValue(round(1000 * info["step"] / max(info["total_steps"], 1)))
        self.progress.setFormat(f"step {info['step']}/{info['total_steps']}  ETA {format_eta(info['eta_s'])}")
        self.throughput.setText(f"epoch {info['epoch'] + 1}   loss {info['loss']:.4f}   "
                                f"{info['images_per_s']:.0f} images/s   lr {info['lr']:.2e}")
        self.batch_steps.append(info["step"])
        self.batch_losses.append(info["loss"])
        self.batch_curve.setData(np.asarray(self.batch_steps) / self.steps_per_epoch - 1, self.batch_losses)

    def _on_epoch(self, row: dict) -> None:
        self.rows.append(row)
        self._draw_rows()

    def _on_ended(self, job: TrainJob, state: str, summary: dict | None = None) -> None:
        if job is not self.job:
            return
        self._set_running(False)
        self.progress.setFormat(state)
        if summary and state == "finished":
            self.progress.setValue(1000)
            self.status.setText(f"Finished: test ACC {summary.get('test_acc', float('nan')):.3f}, "
                                f"AUC {summary.get('test_auc', float('nan')):.3f}\n{self.run_path}")
        self.run_ended.emit(self.run_path, state)

    def _on_failed(self, job: TrainJob, message: str) -> None:
        if job is not self.job:
            return
        self.status.setText(f"Failed: {message}")
        self._on_ended(job, "failed")
        self.error.emit(message)

    # ---- curves ----------------------------------------------------------------------------------
    def clear_curves(self) -> None:
        self.rows, self.batch_steps, self.batch_losses = [], [], []
        self.batch_curve.setData([], [])
        for curve in self.curves.values():
            curve.setData([], [])
        self.confusion_image.clear()
        for text in self.confusion_texts:
            self.confusion_plot.removeItem(text)
        self.confusion_texts = []
        self._clear_roc()

    def _clear_roc(self) -> None:
        for item in list(self.roc_plot.listDataItems()):
            self.roc_plot.removeItem(item)
        self.roc_legend.clear()

    def _show_rows(self, rows: list[dict]) -> None:
        self.rows = list(rows)
        self._draw_rows()

    def _draw_rows(self) -> None:
        epochs = [row["epoch"] for row in self.rows]
        for name in self.curves:  # "val ACC" plots the row's "val_acc"
            key = name.replace(" ", "_").lower()
            values = [row.get(key, float("nan")) for row in self.rows]
            self.curves[name].setData(epochs, values)

    def show_curves(self, curves) -> None:
        """Draw an engine.learning.curves.EpochCurves (confusion matrix and ROC)."""
        matrix = np.asarray(curves.confusion.matrix, dtype=np.float64)
        scaled = matrix / max(matrix.max(), 1)
        self.confusion_image.setImage(np.ascontiguousarray(np.round(scaled * 255), dtype=np.uint8),
                                      autoLevels=False, levels=(0, 255))
        for text in self.confusion_texts:
            self.confusion_plot.removeItem(text)
        self.confusion_texts = []
        if matrix.size <= 121:
            for (row, col), value in np.ndenumerate(matrix):
                text = pg.TextItem(str(int(value)), color="w" if scaled[row, col] < 0.6 else "k", anchor=(0.5, 0.5))
                text.setPos(col + 0.5, row + 0.5)
                self.confusion_plot.addItem(text)
                self.confusion_texts.append(text)
        short = lambda names: [(i + 0.5, n[:10]) for i, n in enumerate(names)]  # noqa: E731
        self.confusion_plot.getAxis("left").setTicks([short(curves.confusion.row_names)])
        self.confusion_plot.getAxis("bottom").setTicks([short(curves.confusion.col_names)])
        self.confusion_plot.setTitle(f"confusion (val, epoch {curves.epoch + 1})")
        self._clear_roc()
        self.roc_plot.plot([0, 1], [0, 1], pen=pg.mkPen("#777", style=Qt.PenStyle.DashLine))
        colours = list(CURVE_PENS.values()) + ["#fff176", "#f06292", "#4db6ac", "#e0e0e0"]
        for i, roc in enumerate(curves.roc):
            self.roc_plot.plot(roc.fpr, roc.tpr, pen=pg.mkPen(colours[i % len(colours)], width=2),
                               name=f"{roc.name[:16]} AUC {roc.auc:.2f}")

    def show_run(self, path: Path) -> None:
        """Reopen a past run: its settings in the form and its curves from metrics.jsonl."""
        if self.running:
            return
        run = RunDir(path)
        saved = run.read_config()
        self.run_path = Path(path)
        self.set_config(TrainConfig.from_dict(saved["train"]))
        self.clear_curves()
        self._show_rows(run.read_metrics())
        last = run.path / "last.json"
        self.progress.setValue(0)
        self.progress.setFormat(f"{len(self.rows)}/{saved['train']['epochs']} epochs")
        self.status.setText(f"{path}\ncheckpoints: " + ", ".join(
            tag for tag in ("best", "last") if run.has_checkpoint(tag)) + ("" if last.exists() else " (none)"))

    def export_csv(self, destination: Path) -> Path:
        return write_metrics_csv(self.run_path, destination)

    def ask_export_csv(self) -> None:
        if self.run_path is None:
            self.error.emit("Start or open a run first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save metrics", f"{self.run_path.name}.csv", "CSV (*.csv)")
        if path:
            try:
                self.export_csv(Path(path))
            except Exception as exc:  # noqa: BLE001 - a user error becomes a message
                self.error.emit(str(exc))
