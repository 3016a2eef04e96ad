"""The SNNDeep study from the app: pick the data, run the study in the background, read the report.

The study is `engine.snndeep.report.run_pipeline`, the same call as `spikeview-engine snndeep
report`, run by the `StudyController`; this panel collects its settings and shows the Markdown report.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QSplitter, QTextBrowser, QVBoxLayout, QWidget)

from spikeview.controllers.study import StudyController, StudySettings
from spikeview.jobs import Job
from spikeview.panels.forms import settings_column, spin_box
from spikeview.session import Session


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

    def __init__(self, session: Session, controller: StudyController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.controller = session, controller
        defaults = StudySettings(None)
        root = Path(session.data_root)
        self.volumes = PathField(placeholder="CT volumes to build a demo MSD liver task from (optional)")
        self.msd = PathField(placeholder="a real MSD Task03_Liver folder (optional)")
        self.medmnist = PathField(str(root), "folder with organamnist.npz (optional)")
        self.study_dir = PathField(str(root / "runs" / "snndeep"))
        self.trials, self.folds = spin_box(1, 200, defaults.trials), spin_box(2, 10, defaults.folds)
        self.epochs = spin_box(1, 100, defaults.epochs)
        self.max_train, self.max_test = spin_box(50, 100000, defaults.max_train), spin_box(50, 100000, defaults.max_test)
        self.bench = QCheckBox("benchmark the three implementations")
        self.bench.setChecked(defaults.bench)
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
        controller.progress.connect(lambda fraction: self.progress.setValue(int(100 * fraction)))
        controller.report_read.connect(self._show_markdown)
        controller.cancelled.connect(lambda: self._ended("Study cancelled; finished studies stay in the database."))
        controller.failed.connect(self._failed)

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

    def settings(self) -> StudySettings:
        return StudySettings(
            study_dir=self.study_dir.path(), volumes=self.volumes.path(), msd=self.msd.path(),
            medmnist=self.medmnist.path(), trials=self.trials.value(), folds=self.folds.value(),
            epochs=self.epochs.value(), max_train=self.max_train.value(), max_test=self.max_test.value(),
            bench=self.bench.isChecked(),
        )

    def start(self) -> Job | None:
        settings = self.settings()
        job = self.controller.start(settings)
        if job is not None:
            self.start_button.setEnabled(False)
            self.cancel_button.setEnabled(True)
            self.progress.setValue(0)
            self.status.setText(f"Running: tuning and cross-validating in {settings.study_dir}…")
        return job

    def cancel(self) -> None:
        if self.controller.job is not None:
            self.controller.cancel()
            self.status.setText("Cancelling after the current step…")

    def _failed(self, message: str) -> None:
        self._ended(f"Failed: {message}")
        self.error.emit(message)

    def _ended(self, text: str) -> None:
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.status.setText(text)

    def show_report(self, path: Path) -> None:
        """Render a report (Markdown with its PNG plots beside it), read by the controller."""
        self.controller.open_report(path)

    def _show_markdown(self, path: Path, markdown: str) -> None:
        self.report.setSearchPaths([str(path.parent)])  # the plots lie beside the report
        self.report.document().setBaseUrl(QUrl.fromLocalFile(str(path.parent) + "/"))
        self.report.setMarkdown(markdown)
        self.progress.setValue(100)
        self._ended(f"Report: {path}")
        self.report_shown.emit(path)

    def _ask_open_report(self) -> None:
        start = str(self.study_dir.path() or Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open an SNNDeep report", start, "Markdown (*.md)")
        if path:
            self.show_report(Path(path))
