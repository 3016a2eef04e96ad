"""The SNNDeep study from the app: pick the data, run the study in the background, read the report.

The study itself is `engine.snndeep.report.run_pipeline`, the same call as
`spikeview-engine snndeep report`; this panel only collects its settings and shows the Markdown report.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QSplitter, QTextBrowser, QVBoxLayout, QWidget)

from engine.errors import UserError
from engine.snndeep.config import RuleConfig
from engine.snndeep.report import PipelineConfig, StudyCancelled, run_pipeline
from spikeview.jobs import Job, JobCancelled, JobRunner
from spikeview.session import Session
from spikeview.views.forms import settings_column, spin_box

REPORT_NAME = "README.md"


def study_work(config: PipelineConfig):
    """The job's work: the whole study, reporting progress and stopping between steps when cancelled."""

    def work(progress, cancelled) -> Path:
        try:
            run_pipeline(config, progress=lambda fraction, _step: progress(fraction), cancelled=cancelled)
        except StudyCancelled as exc:
            raise JobCancelled from exc
        return config.report_dir / REPORT_NAME

    return work


class PathField(QWidget):
    """A line edit with a Browse… button that picks a folder."""

    def __init__(self, text: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.edit = QLineEdit(text)
        self.edit.setPlaceholderText(placeholder)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(browse)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", self.edit.text())
        if folder:
            self.edit.setText(folder)

    def path(self) -> Path | None:
        text = self.edit.text().strip()
        return Path(text).expanduser() if text else None


class SnnDeepPanel(QWidget):
    """Settings, Start/Cancel, progress, and the study's Markdown report with its plots."""

    error = Signal(str)
    report_shown = Signal(Path)

    def __init__(self, session: Session, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.runner = session, runner
        self.job: Job | None = None
        root = Path(session.data_root) if session.data_root else Path.home()
        self.volumes = PathField(placeholder="CT volumes to build a demo MSD liver task from (optional)")
        self.msd = PathField(placeholder="a real MSD Task03_Liver folder (optional)")
        self.medmnist = PathField(str(root), "folder with organamnist.npz (optional)")
        self.study_dir = PathField(str(root / "runs" / "snndeep"))
        self.trials, self.folds, self.epochs = spin_box(1, 200, 6), spin_box(2, 10, 3), spin_box(1, 100, 6)
        self.max_train, self.max_test = spin_box(50, 100000, 1500), spin_box(50, 100000, 1000)
        self.bench = QCheckBox("benchmark the three implementations")
        self.bench.setChecked(True)
        self.start_button, self.cancel_button = QPushButton("Run study"), QPushButton("Cancel")
        self.open_button = QPushButton("Open report…")
        self.cancel_button.setEnabled(False)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self._ask_open_report)
        self.progress = QProgressBar()
        self.status = QLabel("Three learning rules × three SNN implementations, split by patient.")
        self.status.setWordWrap(True)
        self.report = QTextBrowser()
        self.report.setOpenExternalLinks(True)
        self._layout()

    def _layout(self) -> None:
        form = QFormLayout()
        for label, widget in (("CT volumes", self.volumes), ("MSD folder", self.msd), ("MedMNIST", self.medmnist),
                              ("Study folder", self.study_dir), ("Optuna trials", self.trials), ("Folds", self.folds),
                              ("Epochs", self.epochs), ("Max train", self.max_train), ("Max test", self.max_test)):
            form.addRow(label, widget)
        form.addRow("", self.bench)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.cancel_button, self.open_button):
            buttons.addWidget(button)
        settings = QWidget()
        settings_column(settings, form, buttons, self.progress, self.status)
        splitter = QSplitter()
        splitter.addWidget(settings)
        splitter.addWidget(self.report)
        splitter.setStretchFactor(1, 2)
        QVBoxLayout(self).addWidget(splitter)

    def config(self) -> PipelineConfig:
        study_dir = self.study_dir.path()
        if study_dir is None:
            raise UserError("Choose a study folder for the Optuna database and the results.")
        volumes, msd, medmnist = self.volumes.path(), self.msd.path(), self.medmnist.path()
        if not (volumes or msd or medmnist):
            raise UserError("The study needs data: choose CT volumes, an MSD folder or a MedMNIST folder.")
        return PipelineConfig(
            study_dir=study_dir, report_dir=study_dir / "report", volumes_dir=volumes, medmnist_root=medmnist,
            msd_dir=msd, trials=self.trials.value(), folds=self.folds.value(), max_train=self.max_train.value(),
            max_test=self.max_test.value(), rule=RuleConfig(epochs=self.epochs.value(), rounds=5),
            bench=self.bench.isChecked(),
        )

    def start(self) -> Job | None:
        try:
            config = self.config()
        except UserError as exc:
            self.error.emit(str(exc))
            return None
        self.job = self.runner.run("SNNDeep study", study_work(config), on_success=self.show_report,
                                   on_failure=self._failed, on_progress=lambda f: self.progress.setValue(int(100 * f)))
        self.job.cancelled_.connect(lambda: self._ended("Study cancelled; finished studies stay in the database."))
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setText(f"Running: tuning and cross-validating in {config.study_dir}…")
        return self.job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("Cancelling after the current step…")

    def _failed(self, message: str) -> None:
        self._ended(f"Failed: {message}")
        self.error.emit(message)

    def _ended(self, text: str) -> None:
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.status.setText(text)

    def show_report(self, path: Path) -> None:
        """Render a report (Markdown with its PNG plots beside it)."""
        path = Path(path)
        if not path.is_file():
            self.error.emit(f"{path} does not exist: run the study first.")
            return
        self.report.setSource(QUrl.fromLocalFile(str(path.resolve())), QTextDocument.ResourceType.MarkdownResource)
        self.progress.setValue(100)
        self._ended(f"Report: {path}")
        self.report_shown.emit(path)

    def _ask_open_report(self) -> None:
        start = str(self.study_dir.path() or Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open an SNNDeep report", start, "Markdown (*.md)")
        if path:
            self.show_report(Path(path))
