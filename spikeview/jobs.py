"""How engine work runs off the GUI thread (the controllers are the only users).

A `Job` wraps a callable `work(progress, cancelled) -> result`: `progress(fraction)` reports
0..1 and `cancelled()` says whether the user asked to stop. Its Qt signals (`progress`,
`succeeded`, `failed`, `finished`) are delivered on the GUI thread. `JobRunner.submit` starts
jobs on a thread pool and keeps them alive until they end.

    job = Job("Opening scan", lambda progress, cancelled: engine.io.load(path, progress=progress))
    job.succeeded.connect(session.add_scan)
    job.failed.connect(show_error)
    runner.submit(job)

A long job may subclass `Job` (override `run_work`, emit extra signals from inside it), as
`controllers.training.TrainJob` does, or pass its own callable. A job with `OWN_THREAD` runs on a
fresh thread instead of the pool: a training run neither holds one of the pool's few threads for
hours nor inherits a pool thread's torch settings (OpenMP keeps its thread count per thread, so a
pool thread that ran torch before would ignore a thread count set since).

torch must not be imported by two threads at once (`engine.imports`; seen in the installed app: the
runs list and the engine's start-up importing it together). So a job first imports torch under that one
lock, unless it says it needs none (`needs_torch=False`: opening scans, listing datasets), which keeps
those quick while the engine starts.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from engine.errors import UserError
from engine.imports import import_torch

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

    OWN_THREAD = False  # True: JobRunner starts it on a thread of its own, not on the pool
    cancellable = True  # False: work that cannot stop half-way (the status bar offers no Cancel)

    def __init__(self, title: str, work: Work | None = None, parent: QObject | None = None,
                 needs_torch: bool = True) -> None:
        super().__init__(parent)
        self.title = title
        self._work = work
        self.needs_torch = needs_torch
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
            if self.needs_torch:
                import_torch()
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
        self._threads: list[threading.Thread] = []  # of the OWN_THREAD jobs

    def submit(self, job: Job) -> Job:
        self.active.append(job)
        job.finished.connect(lambda: self._forget(job))
        self.job_started.emit(job)
        if job.OWN_THREAD:
            thread = threading.Thread(target=job.execute, name=job.title, daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()
        else:
            self.pool.start(_Runnable(job))
        return job

    def run(
        self,
        title: str,
        work: Work,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
        on_progress: Callable[[float], None] | None = None,
        needs_torch: bool = True,
    ) -> Job:
        """Wrap `work` in a Job, connect the callbacks (called on the GUI thread), then start it."""
        job = Job(title, work, needs_torch=needs_torch)
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
        """Wait for every job to end, at most `msecs`; True when all did."""
        deadline = time.monotonic() + msecs / 1000
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return self.pool.waitForDone(max(0, round(1000 * (deadline - time.monotonic())))) and not any(
            t.is_alive() for t in self._threads)
