"""The one place where engine work runs off the GUI thread.

A `Job` wraps a callable `work(progress, cancelled) -> result`: `progress(fraction)` reports
0..1 and `cancelled()` says whether the user asked to stop. Its Qt signals (`progress`,
`succeeded`, `failed`, `finished`) are delivered on the GUI thread. `JobRunner.submit` starts
jobs on a thread pool and keeps them alive until they end.

    job = Job("Opening scan", lambda progress, cancelled: engine.io.load(path, progress=progress))
    job.succeeded.connect(session.add_scan)
    job.failed.connect(show_error)
    runner.submit(job)

Training/inference jobs subclass `Job` (override `run_work`, emit extra signals such as
per-epoch events from inside it) or pass their own callable.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
import torch._dynamo  # noqa: F401  (torch.optim imports it, with sympy, on first use: not on a worker)
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from engine.errors import UserError
# Imported here, on the GUI thread at start-up, not lazily on a worker: a first import on the
# worker stalled the event loop for hundreds of milliseconds (measured by benchmarks/bench_dynamics.py).
from engine.learning.curves import epoch_curves_callback
from engine.learning.trainer import Trainer

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]
CancelCheck = Callable[[], bool]
Work = Callable[[ProgressCallback, CancelCheck], Any]


class JobCancelled(Exception):
    """Raised inside work that noticed `cancelled()`; the job then emits `cancelled_` not `failed`."""


class Job(QObject):
    """One piece of background work with progress, result, error and cancel as signals."""

    progress = Signal(float)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled_ = Signal()
    finished = Signal()  # always last, after succeeded / failed / cancelled_

    def __init__(self, title: str, work: Work | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self._work = work
        self._cancel = threading.Event()
        self.running = False
        self.done = False

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def run_work(self) -> Any:
        """What runs on the worker thread. Subclasses may override; the default calls `work`."""
        if self._work is None:
            raise NotImplementedError("give Job a work callable or override run_work")
        return self._work(self.progress.emit, self.is_cancelled)

    def execute(self) -> None:
        """Run on the current thread and emit the outcome (the runner calls this on a worker)."""
        self.running = True
        try:
            result = self.run_work()
        except JobCancelled:
            self.cancelled_.emit()
        except UserError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - an unexpected bug must reach the user, not kill the thread
            log.exception("job '%s' failed", self.title)
            self.failed.emit(f"{self.title} failed unexpectedly: {type(exc).__name__}: {exc}")
        else:
            if self.is_cancelled():
                self.cancelled_.emit()
            else:
                self.succeeded.emit(result)
        finally:
            self.running = False
            self.done = True
            self.finished.emit()


class _Runnable(QRunnable):
    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job
        self.setAutoDelete(True)

    def run(self) -> None:
        self.job.execute()


class JobRunner(QObject):
    """Starts jobs on a thread pool; `active` lists the jobs still running."""

    job_started = Signal(object)
    job_finished = Signal(object)

    def __init__(self, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.active: list[Job] = []

    def submit(self, job: Job) -> Job:
        self.active.append(job)
        job.finished.connect(lambda: self._forget(job))
        self.job_started.emit(job)
        self.pool.start(_Runnable(job))
        return job

    def run(
        self,
        title: str,
        work: Work,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Job:
        """Wrap `work` in a Job, connect the callbacks (called on the GUI thread), then start it."""
        job = Job(title, work)
        for signal, slot in ((job.succeeded, on_success), (job.failed, on_failure), (job.progress, on_progress)):
            if slot is not None:
                signal.connect(slot)
        return self.submit(job)

    def _forget(self, job: Job) -> None:
        if job in self.active:
            self.active.remove(job)
        self.job_finished.emit(job)

    def cancel_all(self) -> None:
        for job in list(self.active):
            job.cancel()

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)


class TrainJob(Job):
    """Runs an `engine` Trainer on a worker thread and turns its events into Qt signals.

    Batch events are throttled (at most every `BATCH_INTERVAL_S`, plus the last step) so a fast GPU
    cannot flood the GUI thread. Signals carry plain dicts / engine objects:
    `started(dict)`, `batch(dict: step, total_steps, epoch, loss, lr, images_per_s, eta_s)`,
    `epoch_done(dict: the metrics.jsonl row)`, `curves(EpochCurves)`, `probe(Recording)`.
    """

    BATCH_INTERVAL_S = 0.05

    started = Signal(dict)
    batch = Signal(dict)
    epoch_done = Signal(dict)
    curves = Signal(object)
    probe = Signal(object)

    def __init__(self, config, run_dir, resume: bool = False, parent: QObject | None = None) -> None:
        super().__init__(f"Training {config.model} on {config.dataset}", parent=parent)
        self.config = config
        self.run_dir = run_dir
        self.resume = resume
        self.trainer = None
        self._last_batch_emit = 0.0
        self._start_time = 0.0
        self._first_step: int | None = None  # the step count when timing began (resumed runs start late)

    def cancel(self) -> None:
        super().cancel()
        if self.trainer is not None:
            self.trainer.stop()

    def run_work(self) -> dict:
        self.trainer = Trainer(self.config, self.run_dir, callbacks=[self._on_event], resume=self.resume)
        self.trainer.callbacks.append(epoch_curves_callback(self.trainer, self.curves.emit))
        if self.is_cancelled():
            raise JobCancelled
        self._start_time = time.perf_counter()
        try:
            return self.trainer.run()
        except torch.OutOfMemoryError as exc:
            raise UserError("Training ran out of memory: lower the batch size or use a smaller model.") from exc

    def _on_event(self, event) -> None:
        if event.kind == "start":
            self._start_time, self._first_step = time.perf_counter(), None
            self.started.emit({**event.metrics, "total_steps": event.total_steps, "epoch": event.epoch})
        elif event.kind == "batch":
            self._on_batch(event, time.perf_counter())
        elif event.kind == "epoch":
            self.epoch_done.emit(dict(event.metrics))
        elif event.kind == "probe" and event.recording is not None:
            self.probe.emit(event.recording)

    def _on_batch(self, event, now: float) -> None:
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
