"""The runs folder: its runs listed in the background whenever the folder changes or is asked again,
followed by the sample model that ships with SpikeView."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from engine.errors import UserError
from spikeview.jobs import Job, JobRunner
from spikeview.resources import sample_run_path
from spikeview.session import Session

if TYPE_CHECKING:  # engine.runs reads safetensors with torch: imported in the job
    from engine.runs.listing import RunSummary

__all__ = ["RunsController"]


class RunsController(QObject):
    listed = Signal(object, list, object)  # folder, [RunSummary] newest first, the run to select (or None)

    def __init__(self, session: Session, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.runner = session, runner
        session.runs_folder_changed.connect(lambda _folder: self.refresh())

    def refresh(self, select: Path | None = None) -> Job:
        """List the runs folder again; `select` a run in it once listed (one just trained)."""
        folder = self.session.runs_folder

        def work(_progress, _cancelled) -> list[RunSummary]:
            from engine.runs.listing import list_runs

            return list_runs(folder) + shipped_runs()

        return self.runner.run(f"Listing runs in {Path(folder).name}", work,
                               on_success=lambda runs: self.listed.emit(folder, runs, select))


def shipped_runs() -> list[RunSummary]:
    """The sample model shipped in the app's resources (absent from a broken installation)."""
    from engine.runs.listing import summarize_run

    try:
        return [summarize_run(sample_run_path())]
    except (UserError, OSError, ValueError):
        return []
