"""The SNNDeep study from the app: `engine.snndeep.report.run_pipeline` (the same call as
`spikeview-engine snndeep report`) in the background, and its Markdown report read off the GUI thread.
The study's code (scikit-learn, Optuna, torch) is imported inside the job."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.errors import UserError
from engine.snndeep.config import PipelineConfig
from spikeview.jobs import Job, JobCancelled, JobRunner
from spikeview.session import Session

REPORT_NAME = "README.md"
_ENGINE = PipelineConfig(study_dir=Path(), report_dir=Path())  # the engine's defaults


@dataclass
class StudySettings:
    """The study's settings as the panel's form holds them (defaults from the engine's PipelineConfig,
    but fewer samples: a study started from the app should end in minutes)."""

    study_dir: Path | None
    volumes: Path | None = None  # CT volumes to build a demo MSD liver task from
    msd: Path | None = None  # a real MSD Task03_Liver folder
    medmnist: Path | None = None  # a folder with organamnist.npz
    trials: int = _ENGINE.trials
    folds: int = _ENGINE.folds
    epochs: int = _ENGINE.rule.epochs
    max_train: int = 1500
    max_test: int = 1000
    bench: bool = _ENGINE.bench

    def pipeline_config(self) -> PipelineConfig:
        if self.study_dir is None:
            raise UserError("Choose a study folder for the Optuna database and the results.")
        if not (self.volumes or self.msd or self.medmnist):
            raise UserError("The study needs data: choose CT volumes, an MSD folder or a MedMNIST folder.")
        return PipelineConfig(
            study_dir=self.study_dir, report_dir=self.study_dir / "report", volumes_dir=self.volumes,
            medmnist_root=self.medmnist, msd_dir=self.msd, trials=self.trials, folds=self.folds,
            max_train=self.max_train, max_test=self.max_test,
            rule=replace(_ENGINE.rule, epochs=self.epochs),
            bench=self.bench,
        )


def study_work(config: PipelineConfig):
    """The job's work: the whole study, reporting progress and stopping between steps when cancelled."""

    def work(progress, cancelled) -> Path:
        from engine.snndeep.report import StudyCancelled, run_pipeline

        try:
            run_pipeline(config, progress=lambda fraction, _step: progress(fraction), cancelled=cancelled)
        except StudyCancelled as exc:
            raise JobCancelled from exc
        return config.report_dir / REPORT_NAME

    return work


def read_report(path: Path) -> tuple[Path, str]:
    path = Path(path).absolute()
    if not path.is_file():
        raise UserError(f"{path} does not exist: run the study first.")
    return path, path.read_text(encoding="utf-8")


class StudyController(QObject):
    report_read = Signal(object, str)  # the report's path, its Markdown
    progress = Signal(float)
    cancelled = Signal()
    failed = Signal(str)

    def __init__(self, session: Session, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.runner = session, runner
        self.job: Job | None = None

    def start(self, settings: StudySettings) -> Job | None:
        try:
            config = settings.pipeline_config()
        except UserError as exc:
            self.failed.emit(str(exc))
            return None
        self.job = self.runner.run("SNNDeep study", study_work(config), on_success=self.open_report,
                                   on_failure=self.failed.emit, on_progress=self.progress.emit)
        self.job.cancelled_.connect(self.cancelled.emit)
        return self.job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def open_report(self, path: Path) -> Job:
        return self.runner.run(f"Reading {Path(path).name}", lambda _p, _c: read_report(path),
                               on_success=lambda read: self.report_read.emit(*read), on_failure=self.failed.emit)
