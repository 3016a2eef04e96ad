"""Starting the engine: the modules behind training, inference and the scan readers (torch,
SpikingJelly, scikit-learn, pydicom, nibabel: several seconds of imports) are imported on a worker
thread once the window is on screen, while the window says "Starting the engine". Work asked for
before that imports what it needs itself, on its worker thread; torch itself only ever on one thread
at a time (`engine.imports`).
"""
from __future__ import annotations

import importlib
import logging
import time

from PySide6.QtCore import QObject, Signal

from engine.imports import TORCH_MODULES, import_torch
from spikeview.jobs import Job, JobRunner

log = logging.getLogger(__name__)

# Heaviest first: torch is most of the wait. torch._dynamo comes with torch.optim on first use, with
# sympy: imported here, its first import inside a training run stalled the GUI for hundreds of ms.
ENGINE_MODULES = (
    *TORCH_MODULES, "engine.models", "engine.learning.trainer",
    "engine.learning.curves", "engine.probe.analysis", "engine.probe.recorder", "engine.probe.inference",
    "engine.runs.listing", "engine.io.loader", "engine.io.labels", "engine.io.dicom",
)


def import_engine(progress) -> float:
    """Import ENGINE_MODULES, reporting the fraction done; returns the seconds it took."""
    start = time.perf_counter()
    import_torch()  # most of the wait, under the lock every job takes before touching torch
    for done, name in enumerate(ENGINE_MODULES):
        importlib.import_module(name)
        progress((done + 1) / len(ENGINE_MODULES))
    return time.perf_counter() - start


class EngineController(QObject):
    """`start()` once; `ready` says the engine's modules are loaded (`is_ready` from then on)."""

    ready = Signal(float)  # seconds the imports took
    failed = Signal(str)

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.is_ready = False
        self.job: Job | None = None

    def start(self) -> Job:
        job = Job("Starting the engine", lambda progress, _c: import_engine(progress), needs_torch=False)
        job.cancellable = False  # an import cannot stop half-way
        job.succeeded.connect(self._on_ready)
        job.failed.connect(self.failed.emit)
        self.job = self.runner.submit(job)
        return job

    def _on_ready(self, seconds: float) -> None:
        self.is_ready = True
        log.info("engine ready after %.2f s of imports", seconds)
        self.ready.emit(seconds)
