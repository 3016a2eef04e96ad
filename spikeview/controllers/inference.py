"""Inference from the app: the session's run on the open scan or on a sample of the run's dataset.

When a run is chosen, its input domain (what it was trained on) is read in the background
(`domain_read`), so the inference panel can say so and offer a plane and slice for a 2D model on a 3D
scan. The inference worker loads the run once (`load_for_run`, kept for the next inference), makes the
model input from the scan as the engine does (plane, slice, resampling, window), records the dynamics,
counts the energy and analyses the recording. `finished` carries the outcome with the engine's domain
flags; an input outside the model's domain keeps its class (and its recording, whose outputs show it)
away from the session until the user asks for it with `reveal`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from engine.probe.recording import RecordingAnalysis
from spikeview.jobs import Job, JobRunner
from spikeview.session import Session

if TYPE_CHECKING:  # torch: imported in the job (see controllers.engine)
    from engine.runs.calibration import Calibration
    from engine.data.domain import InputDomain
    from engine.models import LoadedRun
    from engine.probe.inference import InferenceResult

SOURCE_SCAN, SOURCE_DATASET = "Open scan", "Dataset sample"


@dataclass
class InferenceOutcome:
    result: InferenceResult
    analysis: RecordingAnalysis
    source: str  # which sample, in words
    label_names: list[str]
    calibration: Calibration | None = None  # the run's temperature scaling and reliability (None: not calibrated)
    revealed: bool = False  # the class has been shown (at once when the input is in the model's domain)

    @property
    def withheld(self) -> bool:
        return not self.revealed


class InferenceController(QObject):
    finished = Signal(object)  # InferenceOutcome
    revealed = Signal(object)  # InferenceOutcome whose class may now be shown
    failed = Signal(str)
    domain_read = Signal(object, object, str)  # run path, InputDomain (None when unreadable), why not

    def __init__(self, session: Session, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.runner = session, runner
        self.loaded: LoadedRun | None = None
        self.outcome: InferenceOutcome | None = None
        self.domain: InputDomain | None = None
        session.run_changed.connect(self.read_domain)

    # ---- the chosen run ----------------------------------------------------------------------------
    def read_domain(self, path: Path | None) -> Job | None:
        """Read what the run was trained on; an unreadable run is told by the training controller's dialog,
        so here it only reaches the panel's text."""
        self.domain = None
        if path is None:
            self.domain_read.emit(None, None, "")
            return None
        def work(_progress, _cancelled) -> InputDomain:
            from engine.models import run_domain

            return run_domain(path)

        return self.runner.run(f"Reading {Path(path).name}", work,
                               on_success=lambda domain: self._on_domain(path, domain),
                               on_failure=lambda message: self.domain_read.emit(path, None, message))

    def _on_domain(self, path: Path, domain: InputDomain) -> None:
        if path == self.session.run:
            self.domain = domain
            self.domain_read.emit(path, domain, "")

    def needs_plane(self) -> bool:
        """True when the run's model takes 2D images and the open scan is 3D: a plane and slice are chosen."""
        scan = self.session.current
        return (self.domain is not None and self.domain.spatial_dims == 2 and scan is not None
                and not scan.volume.is_2d)

    # ---- inference ---------------------------------------------------------------------------------
    def start(self, source: str, split: str = "test", index: int = 0, plane: str | None = None,
              slice_index: int | None = None) -> Job | None:
        """Infer on the open scan (`SOURCE_SCAN`; a 2D model sees `slice_index` of `plane`) or on sample
        `index` of `split` of the run's dataset."""
        path = self.session.run
        if path is None:
            self.failed.emit("Choose a trained run first (runs list).")
            return None
        volume, scan_title = None, ""
        if source == SOURCE_SCAN:
            if self.session.current is None:
                self.failed.emit("Open a scan or a dataset sample first.")
                return None
            volume = self.session.current.volume
            scan_title = self.session.current.title
        cached = self.loaded if self.loaded is not None and self.loaded.path == path else None

        def work(_progress, _cancelled) -> tuple[LoadedRun, InferenceOutcome]:
            from engine.models import load_for_run
            from engine.probe.analysis import analyse
            from engine.probe.inference import infer, run_dataset_sample

            loaded = cached or load_for_run(path)
            sample = volume if volume is not None else run_dataset_sample(loaded, split, index)
            result = infer(loaded, sample, record=True, energy=True, plane=plane, slice_index=slice_index)
            described = f"scan {scan_title}" if volume is not None else sample.name
            return loaded, InferenceOutcome(result, analyse(result.recording, result.energy), described,
                                            loaded.label_names, loaded.calibration, revealed=result.in_domain)

        return self.runner.run(f"Inference with {Path(path).name}", work, on_success=self._on_done,
                               on_failure=self.failed.emit)

    def _on_done(self, payload: tuple[LoadedRun, InferenceOutcome]) -> None:
        self.loaded, self.outcome = payload
        self.finished.emit(self.outcome)
        if self.outcome.revealed:
            self._show_recording(self.outcome)

    def reveal(self) -> None:
        """Show the class of an input outside the model's domain, at the user's explicit request."""
        if self.outcome is None or self.outcome.revealed:
            return
        self.outcome.revealed = True
        self._show_recording(self.outcome)

    def _show_recording(self, outcome: InferenceOutcome) -> None:
        run = Path(self.loaded.path).name  # the recording names the run and the sample it came from
        self.session.set_recording(outcome.analysis, f"Inference with {run}: {outcome.source}")
        self.revealed.emit(outcome)
