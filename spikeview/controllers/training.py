"""Training from the app: a `TrainJob` runs the engine's Trainer on a thread of its own and turns its
events into Qt signals; the controller starts, resumes and cancels it, reads a past run's history,
writes metrics CSVs and says which models and accelerator the form offers, all off the GUI thread.

The engine modules that import torch are imported inside the work, on a worker thread: the window
is on screen before torch is loaded (`controllers.engine` imports them in the background at start-up).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from engine.errors import UserError
from engine.options import TrainConfig
from spikeview.jobs import Job, JobCancelled, JobRunner
from spikeview.session import Session

if TYPE_CHECKING:
    from engine.learning.trainer import Trainer, TrainEvent


class TrainJob(Job):
    """Runs an `engine` Trainer on a worker thread and turns its events into Qt signals.

    Batch events are throttled (at most every `BATCH_INTERVAL_S`, plus the last step): the GUI thread
    redraws the curves a few times a second however fast the steps come, and takes no CPU time or
    GIL from the training in between. Signals carry plain dicts / engine objects:
    `started(dict: parameters, device, threads, total_steps, epoch, epochs, run_dir, history)`,
    `batch(dict: step, total_steps, epoch, loss, lr, images_per_s, eta_s)`,
    `epoch_done(dict: the metrics.jsonl row)`, `curves(EpochCurves)`, `probe(RecordingAnalysis)`,
    `compiling(str)` when the model starts compiling (the next `batch` ends that state).
    A new run's folder is named in `runs_folder` when no `run_dir` is given.
    """

    BATCH_INTERVAL_S = 0.25
    OWN_THREAD = True  # JobRunner starts it on a fresh thread: see JobRunner.submit

    started = Signal(dict)
    compiling = Signal(str)
    batch = Signal(dict)
    epoch_done = Signal(dict)
    curves = Signal(object)
    probe = Signal(object)

    def __init__(self, config: TrainConfig, run_dir: Path | None, runs_folder: Path | None = None,
                 resume: bool = False, parent: QObject | None = None) -> None:
        super().__init__(f"Training {config.model} on {config.dataset}", parent=parent)
        self.config = config
        self.run_dir = Path(run_dir) if run_dir else None
        self.runs_folder = runs_folder
        self.resume = resume
        self.trainer: Trainer | None = None
        self._last_batch_emit = 0.0
        self._start_time = 0.0
        self._first_step: int | None = None  # the step count when timing began (resumed runs start late)

    def cancel(self) -> None:
        super().cancel()
        if self.trainer is not None:
            self.trainer.stop()

    def run_work(self) -> dict:
        import torch

        from engine.learning.curves import epoch_curves_callback
        from engine.learning.trainer import Trainer
        from engine.probe.recorder import record_sample
        from engine.runs.listing import new_run_path

        if self.run_dir is None:
            self.run_dir = new_run_path(self.runs_folder, self.config.dataset, self.config.size, self.config.model)
        self.trainer = Trainer(self.config, self.run_dir, callbacks=[self._on_event], resume=self.resume,
                               probe=record_sample)
        self.trainer.callbacks.append(epoch_curves_callback(self.trainer, self.curves.emit))
        if self.is_cancelled():
            raise JobCancelled
        self._start_time = time.perf_counter()
        try:
            return self.trainer.run()
        except torch.OutOfMemoryError as exc:
            raise UserError("Training ran out of memory: lower the batch size or use a smaller model.") from exc

    def _on_event(self, event: TrainEvent) -> None:
        if event.kind == "start":
            import torch

            from engine.runs.rundir import RunDir

            self._start_time, self._first_step = time.perf_counter(), None
            history = RunDir(self.run_dir).read_metrics() if self.resume else []
            self.started.emit({**event.metrics, "threads": torch.get_num_threads(), "total_steps": event.total_steps,
                               "epoch": event.epoch, "epochs": self.trainer.config.epochs, "run_dir": self.run_dir,
                               "history": history})
        elif event.kind == "compiling":
            self.compiling.emit(event.message)
        elif event.kind == "batch":
            self._on_batch(event, time.perf_counter())
        elif event.kind == "epoch":
            self.epoch_done.emit(dict(event.metrics))
        elif event.kind == "probe" and event.recording is not None:
            from engine.probe.analysis import analyse

            self.probe.emit({"analysis": analyse(event.recording), "step": event.step, "epoch": event.epoch})

    def _on_batch(self, event: TrainEvent, now: float) -> None:
        if now - self._last_batch_emit < self.BATCH_INTERVAL_S and event.step < event.total_steps:
            return
        self._last_batch_emit = now
        if self._first_step is None:
            self._first_step = event.step - 1
        elapsed = max(now - self._start_time, 1e-9)
        steps_done = max(event.step - self._first_step, 1)
        steps_per_s = steps_done / elapsed
        self.progress.emit(event.step / max(event.total_steps, 1))
        self.batch.emit({
            "step": event.step, "total_steps": event.total_steps, "epoch": event.epoch,
            "loss": event.metrics.get("loss", float("nan")), "lr": event.metrics.get("lr", float("nan")),
            "images_per_s": steps_per_s * self.config.batch_size,
            "eta_s": (event.total_steps - event.step) / steps_per_s,
        })


@dataclass
class RunRecord:
    """A past run as the training panel shows it: its settings, its epochs and its checkpoints."""

    path: Path
    config: TrainConfig
    rows: list[dict]
    checkpoints: list[str]


def read_run(path: Path) -> RunRecord:
    from engine.runs.rundir import RunDir

    run = RunDir(path)
    return RunRecord(Path(path), run.train_config(), run.read_metrics(), [t for t in ("best", "last") if run.has_checkpoint(t)])


class TrainingController(QObject):
    started = Signal(dict)  # TrainJob.started
    compiling = Signal(str)  # TrainJob.compiling: what is being compiled
    batch = Signal(dict)
    epoch_done = Signal(dict)
    curves = Signal(object)  # EpochCurves
    run_ended = Signal(object, str, dict)  # run folder (None if never made), finished | cancelled | failed,
    # the Trainer's summary (finished) or {"message": ...} (failed)
    run_opened = Signal(object)  # RunRecord
    run_unreadable = Signal(str)  # why a chosen run cannot be read, in one sentence
    choices_ready = Signal(dict)  # form_choices(): datasets, models, accelerator, suggested model
    recommended_settings = Signal(object)  # TrainConfig: a dataset's recommended settings (engine.recipes)
    csv_written = Signal(object)  # Path
    failed = Signal(str)

    def __init__(self, session: Session, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.runner = session, runner
        self.job: TrainJob | None = None
        session.run_changed.connect(self._on_run_chosen)

    def load_choices(self) -> Job:
        """The form's datasets and models (catalog and registry) and the accelerator, read in a job."""
        return self.runner.run("Listing models", lambda _p, _c: form_choices(),
                               on_success=self.choices_ready.emit, on_failure=self.failed.emit)

    def config(self, values: dict, base: TrainConfig | None = None) -> TrainConfig:
        """A run's settings from the form's values over `base` (the settings the form was filled from,
        such as a recipe: it keeps the options the form does not show), reading the session's data root."""
        kept = base.to_dict() if base is not None else {}
        return TrainConfig(**{**kept, **values, "data_root": str(self.session.data_root)})

    def recommend(self, dataset: str, size: int) -> Job:
        """The recommended settings of a dataset and size (its recipe), reading the session's data root."""
        def work(_progress, _cancelled) -> TrainConfig:
            from engine.recipes import recommended

            return recommended(dataset, size).config(data_root=str(self.session.data_root))

        return self.runner.run(f"Recommended settings for {dataset}", work, on_success=self.recommended_settings.emit,
                               on_failure=self.failed.emit)

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.done

    def start(self, config: TrainConfig, run_dir: Path | None = None) -> TrainJob | None:
        """A new run in `run_dir`, or in a fresh folder of the session's runs folder."""
        return self._launch(TrainJob(config, run_dir, self.session.runs_folder))

    def resume(self, run_dir: Path | None, config: TrainConfig) -> TrainJob | None:
        """Continue a run; of `config` only the epoch budget and the device count."""
        if run_dir is None:
            self.failed.emit("Pick a run in the runs list to resume it.")
            return None
        return self._launch(TrainJob(config, run_dir, resume=True))

    def cancel(self) -> None:
        if self.running:
            self.job.cancel()

    def _launch(self, job: TrainJob) -> TrainJob | None:
        if self.running:
            self.failed.emit("A training run is already in progress; cancel it first.")
            return None
        self.job = job
        for source, target in ((job.started, self.started), (job.compiling, self.compiling), (job.batch, self.batch),
                               (job.epoch_done, self.epoch_done), (job.curves, self.curves)):
            source.connect(target)
        job.probe.connect(lambda probe: self.session.set_recording(
            probe["analysis"], f"Training probe: {Path(job.run_dir).name}, first val sample, step {probe['step']}"))
        job.succeeded.connect(lambda summary: self.run_ended.emit(job.run_dir, "finished", summary))
        job.cancelled_.connect(lambda: self.run_ended.emit(job.run_dir, "cancelled", {}))
        job.failed.connect(lambda message: self._on_failed(job, message))
        self.runner.submit(job)
        return job

    def _on_failed(self, job: TrainJob, message: str) -> None:
        self.failed.emit(message)
        self.run_ended.emit(job.run_dir, "failed", {"message": message})

    # ---- past runs -------------------------------------------------------------------------------
    def _on_run_chosen(self, path: Path | None) -> None:
        if path is not None and not self.running:
            self.open_run(path)

    def open_run(self, path: Path) -> Job:
        return self.runner.run(f"Reading {Path(path).name}", lambda _p, _c: read_run(path),
                               on_success=self.run_opened.emit, on_failure=self.run_unreadable.emit)

    def export_csv(self, run_dir: Path, destination: Path) -> Job:
        def work(_progress, _cancelled) -> Path:
            from engine.runs.listing import write_metrics_csv

            return write_metrics_csv(run_dir, destination)

        return self.runner.run(f"Writing {Path(destination).name}", work,
                               on_success=self.csv_written.emit, on_failure=self.failed.emit)


GPU_MODEL = "sdt_small"  # the form's model where a GPU trains; on the CPU TrainConfig's default (sdt_tiny)


def form_choices() -> dict:
    """What the training form offers: {"dataset": [...], "model": [...], "accelerator": one line,
    "suggested_model": a model that trains in minutes on the device `auto` picks}."""
    import torch

    from engine.data.catalog import list_datasets
    from engine.device import describe_accelerator
    from engine.models import list_models

    models = list_models()
    gpu = torch.cuda.is_available() and GPU_MODEL in models
    return {"dataset": list_datasets(), "model": models, "accelerator": describe_accelerator(),
            "suggested_model": GPU_MODEL if gpu else TrainConfig().model}
