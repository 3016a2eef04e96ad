"""Inference from the app: the session's run on the open scan or on a sample of the run's dataset.

The worker loads the run once (`load_for_run`, kept for the next inference), prepares the input as
in training, records the dynamics, counts the energy and analyses the recording; the session then
shows the recording and `finished` carries the outcome to the inference panel.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.models import LoadedRun, load_for_run
from engine.probe.analysis import analyse
from engine.probe.inference import InferenceResult, infer, run_dataset_sample
from engine.probe.recording import RecordingAnalysis
from engine.runs.calibration import Calibration
from spikeview.jobs import Job, JobRunner
from spikeview.session import Session

SOURCE_SCAN, SOURCE_DATASET = "Open scan", "Dataset sample"


@dataclass
class InferenceOutcome:
    result: InferenceResult
    analysis: RecordingAnalysis
    source: str  # which sample, in words
    label_names: list[str]
    calibration: Calibration | None = None  # the run's temperature scaling and reliability (None: not calibrated)


class InferenceController(QObject):
    finished = Signal(object)  # InferenceOutcome
    failed = Signal(str)

    def __init__(self, session: Session, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.runner = session, runner
        self.loaded: LoadedRun | None = None
        self.outcome: InferenceOutcome | None = None

    def start(self, source: str, split: str = "test", index: int = 0) -> Job | None:
        """Infer on the open scan (`SOURCE_SCAN`) or on sample `index` of `split` of the run's dataset."""
        path = self.session.run
        if path is None:
            self.failed.emit("Choose a trained run first (runs list).")
            return None
        array = None
        if source == SOURCE_SCAN:
            if self.session.current is None:
                self.failed.emit("Open a scan or a dataset sample first.")
                return None
            array = np.asarray(self.session.current.volume.array)
        cached = self.loaded if self.loaded is not None and self.loaded.path == path else None

        def work(_progress, _cancelled) -> tuple[LoadedRun, InferenceOutcome]:
            loaded = cached or load_for_run(path)
            sample, described = (array, "open scan") if array is not None else run_dataset_sample(loaded, split, index)
            result = infer(loaded, sample, record=True, energy=True)
            return loaded, InferenceOutcome(result, analyse(result.recording, result.energy), described,
                                            loaded.label_names, loaded.calibration)

        return self.runner.run(f"Inference with {Path(path).name}", work, on_success=self._on_done,
                               on_failure=self.failed.emit)

    def _on_done(self, payload: tuple[LoadedRun, InferenceOutcome]) -> None:
        self.loaded, self.outcome = payload
        self.session.set_recording(self.outcome.analysis, f"Inference: {self.outcome.source}")
        self.finished.emit(self.outcome)
