"""Training from the app: the run's settings (a form built from `engine.options`), start / cancel /
resume, live progress (ETA, images/s) and the run's curves (`TrainingCurvesView`).

Requests go to the `TrainingController`; its signals fill the progress bar and the curves. The form
is what Start trains: choosing a past run in the runs list shows that run (its settings in words,
its curves) without touching the form, and "Use these settings" copies them into it. The form's
dataset follows the one shown in the browser, and its model suits the device.
"""
from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea, QVBoxLayout, QWidget,
)

from engine.options import TrainConfig
from spikeview.controllers.training import RunRecord, TrainingController, TrainJob
from spikeview.panels.forms import OptionForm, settings_column
from spikeview.session import Session
from spikeview.views.training_curves import TrainingCurvesView

PROGRESS_STEPS = 1000
STARTING = "Starting the engine: the models and datasets appear here when it is ready."


def format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def placement(info: dict) -> str:
    """Where and how a run trains, from its start event: "cpu, 1 CPU thread, fp32", or
    "cpu × 2 processes (gloo), bf16"."""
    processes = info.get("processes", 1)
    where = info.get("device", "?")
    if processes > 1:
        where = f"{where} × {processes} processes ({info.get('backend', '')})"
    elif where == "cpu" and info.get("threads"):
        threads = info["threads"]
        where = f"{where}, {threads} CPU thread{'s' if threads > 1 else ''}"
    return f"{where}, {info['precision']}" if info.get("precision") else where


def describe_settings(config: TrainConfig) -> str:
    """A run's settings in one line, as the panel shows a past run."""
    limit = f", first {config.train_limit} samples" if config.train_limit else ""
    processes = f", {config.processes} processes" if config.processes != 1 else ""
    return (f"{config.dataset} {config.size} px, {config.model}, T = {config.timesteps}, {config.epochs} epochs, "
            f"batch {config.batch_size}, lr {config.lr:g}, {config.loss} loss{limit}, device {config.device}"
            f"{processes}, {config.precision} numbers")


class TrainingPanel(QWidget):
    run_ended = Signal(object, str)  # run folder, "finished" | "cancelled" | "failed"

    def __init__(self, session: Session, controller: TrainingController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.controller = session, controller
        self.run_path: Path | None = None  # the run whose curves are shown (training, or chosen)
        self.shown_record: RunRecord | None = None  # a past run shown, not trained here
        self.base_config: TrainConfig | None = None  # what the form was last filled from (a recipe, a run)
        self.ready = False  # the form has its datasets and models
        self._dataset_chosen_by_hand = False
        self._status_before_compiling = ""
        self.plots = TrainingCurvesView()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self._build_form(), 0)
        layout.addWidget(self.plots, 1)
        self._set_running(False)
        controller.started.connect(self._on_started)
        controller.compiling.connect(self._on_compiling)
        controller.batch.connect(self._on_batch)
        controller.epoch_done.connect(self.plots.add_row)
        controller.curves.connect(self.plots.show_curves)
        controller.run_ended.connect(self._on_ended)
        controller.run_opened.connect(self.show_record)
        controller.choices_ready.connect(self.set_choices)
        controller.recommended_settings.connect(self.show_settings)
        session.dataset_changed.connect(self._follow_dataset)
        session.datasets_changed.connect(lambda _datasets: self._pick_present_dataset())

    def _build_form(self) -> QWidget:
        self.form = OptionForm({"dataset": [], "model": []})
        self.form.widgets["dataset"].activated.connect(self._on_dataset_picked)
        self.cuda_label = QLabel("")
        self.cuda_label.setWordWrap(True)
        self.form.insertRow(self.form.getWidgetPosition(self.form.widgets["device"])[0] + 1, "", self.cuda_label)
        self.recommend_button = QPushButton("Recommended settings")
        self.recommend_button.setToolTip("The recipe measured for the chosen dataset and size (docs/results.md)")
        self.recommend_button.clicked.connect(self.recommend)
        self.form.insertRow(self.form.getWidgetPosition(self.form.widgets["size"])[0] + 1, "", self.recommend_button)
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
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setFormat("idle")
        self.status = QLabel(STARTING)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box = QGroupBox("Run")
        settings_column(box, self.form, buttons, self.progress, self.status, self._build_shown_run())
        scroll = QScrollArea()  # the dock can be made short: the form scrolls instead of holding it tall
        scroll.setWidget(box)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedWidth(350)
        return scroll

    def _build_shown_run(self) -> QWidget:
        self.shown_box = QGroupBox("Run shown")
        self.shown_label = QLabel("")
        self.shown_label.setWordWrap(True)
        self.shown_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.use_settings_button = QPushButton("Use these settings")
        self.use_settings_button.setToolTip("Copy the shown run's settings into the form above (Start trains the form)")
        self.use_settings_button.clicked.connect(self.use_shown_settings)
        column = QVBoxLayout(self.shown_box)
        column.addWidget(self.shown_label)
        column.addWidget(self.use_settings_button)
        self.shown_box.hide()
        return self.shown_box

    # ---- the form's choices ------------------------------------------------------------------------
    def set_choices(self, choices: dict) -> None:
        """Datasets and models from the engine (once it has started), the accelerator, the model that
        suits it; the dataset follows the browser, or the first one present in the data folder."""
        self.form.set_choices("dataset", choices["dataset"])
        self.form.set_choices("model", choices["model"])
        self.form.widgets["model"].setCurrentText(choices["suggested_model"])
        self.cuda_label.setText(choices["accelerator"])
        self.ready = True
        if self.session.dataset is not None:
            self._follow_dataset(self.session.dataset)
        else:
            self._pick_present_dataset()
        if not self.controller.running:
            self.status.setText("")
        self._set_running(self.controller.running)

    def _on_dataset_picked(self, _index: int) -> None:
        self._dataset_chosen_by_hand = True

    def _follow_dataset(self, dataset) -> None:
        """The browser opened `dataset`: train on it (its flag and size), unless a run is going."""
        if dataset is None or self.controller.running or not self.ready:
            return
        self.form.widgets["dataset"].setCurrentText(dataset.spec.flag)
        self.form.widgets["size"].setCurrentText(str(dataset.spec.size))
        self._dataset_chosen_by_hand = False

    def _pick_present_dataset(self) -> None:
        """A dataset whose files are in the data folder (2D first: they train in minutes on a CPU),
        when the form's is not one and nobody chose it."""
        present = sorted((d for d in self.session.datasets if d.path is not None), key=lambda d: d.spec.spatial_dims)
        if not self.ready or self._dataset_chosen_by_hand or self.controller.running or not present:
            return
        if self.form.values()["dataset"] not in {d.spec.flag for d in present}:
            self._follow_dataset(present[0])

    # ---- requests --------------------------------------------------------------------------------
    def config(self) -> TrainConfig:
        return self.controller.config(self.form.values(), self.base_config)

    def show_settings(self, config: TrainConfig) -> None:
        """Fill the form from `config`; the options it does not show are kept for the next start."""
        self.base_config = config
        self.form.set_values(config)

    def start(self, config: TrainConfig | None = None, run_path: Path | None = None) -> TrainJob | None:
        """Train with the form's settings (or `config`, shown in the form) into `run_path` or a new folder."""
        if config is not None:
            self.form.set_values(config)
        return self._launched(self.controller.start(config or self.config(), run_path))

    def recommend(self) -> None:
        """Fill the form with the recommended settings of the dataset and size it shows."""
        values = self.form.values()
        self.controller.recommend(values["dataset"], values["size"])

    def resume(self, run_path: Path | None = None) -> TrainJob | None:
        return self._launched(self.controller.resume(run_path or self.run_path, self.config()))

    def cancel(self) -> None:
        if self.controller.running:
            self.controller.cancel()
            self.progress.setFormat("cancelling…")

    def show_run(self, path: Path) -> None:
        """Show a past run: its settings in words and its curves from metrics.jsonl (the form stays)."""
        if not self.controller.running:
            self.controller.open_run(path)

    def use_shown_settings(self) -> None:
        """Copy the shown run's settings into the form (its dataset, model, epochs...)."""
        if self.shown_record is not None:
            self.show_settings(self.shown_record.config)
            self._dataset_chosen_by_hand = True

    def ask_export_csv(self) -> None:
        if self.run_path is None:
            self.controller.failed.emit("Start or open a run first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save metrics", f"{self.run_path.name}.csv", "CSV (*.csv)")
        if path:
            self.controller.export_csv(self.run_path, Path(path))

    # ---- state -----------------------------------------------------------------------------------
    def _launched(self, job: TrainJob | None) -> TrainJob | None:
        if job is not None:
            self.plots.clear()
            self.shown_record = None
            self.shown_box.hide()
            self._set_running(True)
            self.progress.setValue(0)
            self.progress.setFormat("starting…")
            self.status.setText(f"Run folder: {job.run_dir or 'a new folder in ' + str(self.session.runs_folder)}")
        return job

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running and self.ready)
        self.resume_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.use_settings_button.setEnabled(not running)

    def _on_started(self, info: dict) -> None:
        self.run_path = Path(info["run_dir"])
        self.plots.steps_per_epoch = max(1, info["total_steps"] // max(info["epochs"], 1))
        self.plots.show_rows(info["history"])
        self.status.setText(f"{info.get('parameters', 0):,} parameters on {placement(info)}\n{self.run_path}")

    def _on_compiling(self, message: str) -> None:
        if self.progress.maximum():  # not compiling yet: keep the run's status for afterwards
            self._status_before_compiling = self.status.text()
        self.progress.setRange(0, 0)  # a busy bar: compiling takes minutes the first time, with no steps to count
        self.progress.setFormat("compiling…")
        self.status.setText(message)

    def _on_batch(self, info: dict) -> None:
        if not self.progress.maximum():  # the compiled model ran its first step
            self.progress.setRange(0, PROGRESS_STEPS)
            self.status.setText(self._status_before_compiling)
        self.progress.setValue(round(PROGRESS_STEPS * info["step"] / max(info["total_steps"], 1)))
        self.progress.setFormat(f"step {info['step']}/{info['total_steps']}  ETA {format_eta(info['eta_s'])}")
        self.plots.add_batch(info["step"], info["loss"], f"epoch {info['epoch'] + 1}   loss {info['loss']:.4f}   "
                                                         f"{info['images_per_s']:.0f} images/s   lr {info['lr']:.2e}")

    def _on_ended(self, path: Path | None, state: str, summary: dict) -> None:
        self._set_running(False)
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setFormat(state)
        if state == "finished":
            self.progress.setValue(PROGRESS_STEPS)
            self.status.setText(f"Finished: test ACC {summary.get('test_acc', float('nan')):.3f}, "
                                f"AUC {summary.get('test_auc', float('nan')):.3f}\n{path}")
        elif state == "failed":
            self.status.setText(f"Failed: {summary.get('message', '')}")
        self.run_ended.emit(path, state)

    def show_record(self, record: RunRecord) -> None:
        """A past run: its settings in words and its epochs. The form is left as it is; the confusion
        and ROC stay when it is the run already shown (the one just trained)."""
        same = self.run_path is not None and Path(record.path).resolve() == self.run_path.resolve()
        if not same:
            self.plots.clear()
        self.run_path = Path(record.path)
        self.shown_record = record
        self.plots.show_rows(record.rows)
        if not same:
            self.progress.setValue(0)
            self.progress.setFormat(f"{len(record.rows)}/{record.config.epochs} epochs")
        self.shown_label.setText(f"<b>{record.path.name}</b><br>{describe_settings(record.config)}<br>"
                                 f"{len(record.rows)}/{record.config.epochs} epochs done; checkpoints: "
                                 f"{', '.join(record.checkpoints) or '(none)'}")
        self.shown_box.show()
        self._set_running(self.controller.running)
