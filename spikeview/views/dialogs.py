"""Small dialogs: errors, the DICOM series chooser, the About box."""
from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QMessageBox, QVBoxLayout, QWidget

from spikeview import RESEARCH_NOTICE
from spikeview.app_info import app_info

if TYPE_CHECKING:
    from engine.io.dicom import SeriesInfo


def about_text() -> str:
    """The About box: what SpikeView is, which build, on what torch/accelerator, where it logs."""
    info = app_info()
    rows = [("Version", info.version), ("Build", info.build), ("Python", f"{info.python} on {info.platform}"),
            ("torch", info.torch), ("Accelerator", info.accelerator), ("Log file", info.log_file)]
    table = "".join(f"<tr><td><b>{name}</b>&nbsp;</td><td>{html.escape(value)}</td></tr>" for name, value in rows)
    return (
        "<h3>SpikeView</h3>"
        "<p>Spiking neural networks on medical images: browse scans and MedMNIST datasets, train and "
        "watch spiking transformers.</p>"
        f"<table>{table}</table>"
        f"<p><b>{RESEARCH_NOTICE}</b> SpikeView is a research tool; it is not a medical device and "
        "must not be used to diagnose or treat patients.</p>"
    )


def show_error(parent: QWidget | None, title: str, message: str) -> None:
    """One clear message; the app goes on."""
    QMessageBox.critical(parent, title, message)


def show_warning(parent: QWidget | None, title: str, message: str) -> None:
    QMessageBox.warning(parent, title, message)


def show_about(parent: QWidget | None) -> None:
    QMessageBox.about(parent, "About SpikeView", about_text())


class SeriesDialog(QDialog):
    """Lets the user pick one series of a DICOM folder."""

    def __init__(self, series: list[SeriesInfo], folder_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a series")
        self.series = series
        self.list = QListWidget()
        for info in series:
            self.list.addItem(f"{info.description}  —  {info.modality}, {info.count} images")
        self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"The folder {folder_name} holds {len(series)} series. Which one should open?"))
        layout.addWidget(self.list)
        layout.addWidget(buttons)

    def chosen_uid(self) -> str | None:
        row = self.list.currentRow()
        return self.series[row].uid if 0 <= row < len(self.series) else None


def choose_series(series: list[SeriesInfo], folder_name: str, parent: QWidget | None = None) -> str | None:
    """The UID the user picked, or None when cancelled."""
    dialog = SeriesDialog(series, folder_name, parent)
    return dialog.chosen_uid() if dialog.exec() == QDialog.DialogCode.Accepted else None
