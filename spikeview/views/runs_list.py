"""The runs folder as a list: dataset, model, epochs, best val ACC/AUC; double-click reopens a run."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog, QHBoxLayout, QLabel, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from engine.runs.listing import RunSummary, list_runs
from spikeview.session import Session

COLUMNS = ("run", "dataset", "model", "epochs", "val ACC", "val AUC", "state")
PATH_ROLE = Qt.ItemDataRole.UserRole + 1


def run_state(run: RunSummary) -> str:
    if run.complete:
        return "finished"
    return "interrupted (resumable)" if run.resumable else "incomplete"


class RunsList(QWidget):
    run_opened = Signal(object)  # Path
    selection_changed = Signal(object)  # Path | None

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.runs: list[RunSummary] = []
        self.folder_label = QLabel()
        self.folder_label.setWordWrap(True)
        choose = QPushButton("Folder…")
        choose.clicked.connect(self.ask_folder)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.itemDoubleClicked.connect(lambda item, _c: self.run_opened.emit(item.data(0, PATH_ROLE)))
        self.tree.currentItemChanged.connect(lambda item, _p: self.selection_changed.emit(item.data(0, PATH_ROLE) if item else None))
        top = QHBoxLayout()
        top.addWidget(self.folder_label, 1)
        top.addWidget(choose)
        top.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.tree)
        session.runs_folder_changed.connect(lambda _f: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        selected = self.selected_run()
        folder = self.session.runs_folder
        self.folder_label.setText(f"Runs in {folder}")
        self.runs = list_runs(folder)
        self.tree.clear()
        for run in self.runs:
            item = QTreeWidgetItem([run.name, run.dataset, run.model, f"{run.epochs_done}/{run.epochs_planned}",
                                    f"{run.best_val_acc:.3f}", f"{run.best_val_auc:.3f}", run_state(run)])
            item.setData(0, PATH_ROLE, run.path)
            self.tree.addTopLevelItem(item)
            if run.path == selected:
                self.tree.setCurrentItem(item)
        for column in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(column)

    def selected_run(self) -> Path | None:
        item = self.tree.currentItem()
        return item.data(0, PATH_ROLE) if item is not None else None

    def select_run(self, path: Path) -> None:
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            if Path(item.data(0, PATH_ROLE)) == Path(path):
                self.tree.setCurrentItem(item)

    def ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of training runs", str(self.session.runs_folder))
        if folder:
            self.session.set_runs_folder(Path(folder))
