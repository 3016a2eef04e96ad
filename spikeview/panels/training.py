"""Training from the app: the run's settings (a form built from `engine.options`), start / cancel /
resume, live progress (ETA, images/s) and the run's curves (`TrainingCurvesView`).

Requests go to the `TrainingController`; its signals fill the progress bar and the curves. Choosing a
past run (runs list) shows its settings and its epochs.
"""
from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from engine.options import TrainConfig
from spikeview.controllers.training import RunRecord, TrainingController, TrainJob
from spikeview.panels.forms import OptionForm, settings_column
from spikeview.session import Session
from spikeview.views.training_curves import TrainingCurvesView

PROGRESS_STEPS = 1000


def format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TrainingPanel(QWidget):
    run_ended = Signal(object, str)  # run folder, "finished" | "cancelled" | "failed"

    def __init__(self, session: Session, controller: TrainingController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.controller = session, controller
        self.run_path: Path | None = None
        self.base_config: TrainConfig | None = None  # what the form was last filled from (a recipe, a run)
        self.plots = TrainingCurvesView()
        layout = QHBoxLayout(self)
        layout.addWidget(self._build_form(), 0)
        layout.addWidget(self.plots, 1)
        self._set_running(False)
        controller.started.connect(self._on_started)
        controller.batch.connect(self._on_batch)
        controller.epoch_done.connect(self.plots.add_row)
        controller.curves.connect(self.plots.show_curves)
        controller.run_ended.connect(self._on_ended)
        controller.run_opened.connect(self.show_record)
        controller.accelerator_described.connect(self.cuda_label.setText)
        controller.recommended_settings.connect(self.show_settings)
        controller.describe_accelerator()

    def _build_form(self) -> QWidget:
        self.form = OptionForm(self.controller.form_choices())
        self.cuda_label = QLabel("CUDA: …")
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
        self.status = QLabel("")
        self.status.setWordWrap(True)
        box = QGroupBox("Run")
        settings_column(box, self.form, buttons, self.progress, self.status)
        box.setMaximumWidth(330)
        return box

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
        """Reopen a past run: its settings in the form and its curves from metrics.jsonl."""
        if not self.controller.running:
            self.controller.open_run(path)

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
            self._set_running(True)
            self.progress.setValue(0)
            self.progress.setFormat("starting…")
            self.status.setText(f"Run folder: {job.run_dir or 'a new folder in ' + str(self.session.runs_folder)}")
        return job

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.resume_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _on_started(self, info: dict) -> None:
        self.run_path = Path(info["run_dir"])
        self.plots.steps_per_epoch = max(1, info["total_steps"] // max(info["epochs"], 1))
        self.plots.show_rows(info["history"])
        self.status.setText(f"{info.get('parameters', 0):,} parameters on {info.get('device', '?')}\n{self.run_path}")

    def _on_batch(self, info: dict) -> None:
        self.progress.setValue(round(PROGRESS_STEPS * info["step"] / max(info["total_steps"], 1)))
        self.progress.setFormat(f"step {info['step']}/{info['total_steps']}  ETA {format_eta(info['eta_s'])}")
        self.plots.add_batch(info["step"], info["loss"], f"epoch {info['epoch'] + 1}   loss {info['loss']:.4f}   "
                                                         f"{info['images_per_s']:.0f} images/s   lr {info['lr']:.2e}")

    def _on_ended(self, path: Path | None, state: str, summary: dict) -> None:
        self._set_running(False)
        self.progress.setFormat(state)
        if state == "finished":
            self.progress.setValue(PROGRESS_STEPS)
            self.status.setText(f"Finished: test ACC {summary.get('test_acc', float('nan')):.3f}, "
                                f"AUC {summary.get('test_auc', float('nan')):.3f}\n{path}")
        elif state == "failed":
            self.status.setText(f"Failed: {summary.get('message', '')}")
        self.run_ended.emit(path, state)

    def show_record(self, record: RunRecord) -> None:
        """A past run: its settings, its epochs; the confusion and ROC stay when it is the run shown."""
        if record.path != self.run_path:
            self.plots.clear()
        self.run_path = record.path
        self.show_settings(record.config)
        self.plots.show_rows(record.rows)
        self.progress.setValue(0)
        self.progress.setFormat(f"{len(record.rows)}/{record.config.epochs} epochs")
        self.status.setText(f"{record.path}\ncheckpoints: {', '.join(record.checkpoints) or '(none)'}")
