"""The runs folder as a list: dataset, model, epochs, best val ACC/AUC and state. Choosing a run makes
it the session's run (the training and inference panels show it); the list comes from the
`RunsController`, which reads the folder in the background."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton, QTreeWidget, QTreeWidgetItem, QWidget

from spikeview.controllers.runs import RunsController
from spikeview.resources import sample_run_path
from spikeview.session import Session
from spikeview.views.layouts import header_and_body

if TYPE_CHECKING:
    from engine.runs.listing import RunSummary

COLUMNS = ("run", "dataset", "model", "epochs", "val ACC", "val AUC", "state")
PATH_ROLE = Qt.ItemDataRole.UserRole + 1


def run_title(run: RunSummary) -> str:
    return "sample model (ships with SpikeView)" if run.path == sample_run_path() else run.name


class RunsList(QWidget):
    def __init__(self, session: Session, controller: RunsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.controller = session, controller
        self.runs: list[RunSummary] = []
        self.folder_label = QLabel(f"Runs in {session.runs_folder}")
        self.folder_label.setWordWrap(True)
        choose = QPushButton("Folder…")
        choose.clicked.connect(self.ask_folder)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(lambda: controller.refresh())
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.itemDoubleClicked.connect(lambda item, _c: session.set_run(item.data(0, PATH_ROLE)))
        self.tree.currentItemChanged.connect(self._on_current_changed)
        header_and_body(self, [self.folder_label, choose, refresh], [self.tree])
        controller.listed.connect(self.show_runs)

    def show_runs(self, folder: Path, runs: list[RunSummary], select: Path | None = None) -> None:
        """The runs of `folder`; the selection stays on the run it was on, or moves to `select`."""
        wanted = Path(select) if select else self.selected_run()
        self.folder_label.setText(f"Runs in {folder}")
        self.runs = runs
        self.tree.blockSignals(True)
        self.tree.clear()
        for run in runs:
            item = QTreeWidgetItem([run_title(run), run.dataset, run.model, f"{run.epochs_done}/{run.epochs_planned}",
                                    f"{run.best_val_acc:.3f}", f"{run.best_val_auc:.3f}", run.describe_state()])
            item.setData(0, PATH_ROLE, run.path)
            if run.problem:
                item.setToolTip(COLUMNS.index("state"), run.problem)
            self.tree.addTopLevelItem(item)
        for column in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(column)
        self.tree.blockSignals(False)
        if wanted is not None:
            self.select_run(wanted)

    def _on_current_changed(self, item: QTreeWidgetItem | None, _previous) -> None:
        if item is not None:
            self.session.set_run(item.data(0, PATH_ROLE))

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
