"""Inference from the app: pick a trained run and a sample (the open scan, or a sample of the run's
dataset); see the class probabilities, the preprocessed input the model saw, and the confidence.

The work (loading the run, preprocessing, the recorded forward pass, the energy count) is done by
`engine` inside a Job; results arrive as `recorded(Recording, str)` and `energy(EnergyReport)`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from engine.data.catalog import get_spec, load_split
from engine.data.pipeline import prepare_array
from engine.errors import UserError
from engine.models.energy import EnergyReport
from engine.probe.analysis import sample_energy
from engine.probe.inference import InferenceResult, LoadedRun, infer_prepared, load_run
from spikeview.jobs import Job, JobRunner
from spikeview.session import Session
from spikeview.views.attention_view import display_image
from spikeview.views.colormaps import lookup_table

log = logging.getLogger(__name__)

SOURCE_SCAN, SOURCE_DATASET = "Open scan", "Dataset sample"


@dataclass
class InferenceOutcome:
    result: InferenceResult
    energy: EnergyReport
    source: str


def run_inference(loaded: LoadedRun, sample_array: np.ndarray | None, split: str, index: int) -> InferenceOutcome:
    """On the worker thread: preprocess as in training, record the dynamics, count the energy."""
    if sample_array is None:
        spec = get_spec(loaded.config.dataset, loaded.config.size)
        root = Path(loaded.config.data_root) if loaded.config.data_root else None
        images, _labels = load_split(spec, split, root)
        if not 0 <= index < len(images):
            raise UserError(f"The {split} split has {len(images)} samples; #{index} does not exist.")
        sample_array, source = images[index], f"{spec.flag} {split} #{index}"
    else:
        source = "open scan"
    sample = prepare_array(sample_array, loaded.prep)
    result = infer_prepared(loaded, sample, record=True)
    energy = sample_energy(loaded.model, sample, loaded.config.timesteps, loaded.config.encoder, loaded.device)
    return InferenceOutcome(result, energy, source)


class InferencePanel(QWidget):
    recorded = Signal(object, str)  # Recording, description of the sample
    energy = Signal(object)  # EnergyReport
    error = Signal(str)

    def __init__(self, session: Session, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.runner = runner
        self.run_path: Path | None = None
        self._loaded: LoadedRun | None = None
        self.outcome: InferenceOutcome | None = None
        self.job: Job | None = None
        self.run_label = QLabel("No run chosen: select one in the runs list.")
        self.run_label.setWordWrap(True)
        self.source_box = QComboBox()
        self.source_box.addItems([SOURCE_DATASET, SOURCE_SCAN])
        self.split_box = QComboBox()
        self.split_box.addItems(["test", "val", "train"])
        self.index_spin = QSpinBox()
        self.index_spin.setRange(0, 10_000_000)
        self.run_button = QPushButton("Run inference")
        self.run_button.clicked.connect(lambda: self.start())
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Sample", self.source_box)
        form.addRow("Split", self.split_box)
        form.addRow("Index", self.index_spin)
        self.input_plot = pg.PlotWidget(title="input the model saw")
        self.input_plot.setAspectLocked(True)
        self.input_plot.invertY(True)
        self.input_plot.hideAxis("left")
        self.input_plot.hideAxis("bottom")
        self.input_image = pg.ImageItem(axisOrder="row-major")
        self.input_plot.addItem(self.input_image)
        self.prob_plot = pg.PlotWidget(title="class probabilities")
        self.prob_plot.setYRange(0, 1)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush="#4fc3f7")
        self.prob_plot.addItem(self.bars)
        left = QVBoxLayout()
        left.addWidget(self.run_label)
        left.addLayout(form)
        left.addWidget(self.run_button)
        left.addWidget(self.result_label)
        left.addStretch(1)
        holder = QWidget()
        holder.setLayout(left)
        holder.setMaximumWidth(300)
        layout = QHBoxLayout(self)
        layout.addWidget(holder)
        layout.addWidget(self.input_plot, 1)
        layout.addWidget(self.prob_plot, 1)

    def set_run(self, path: Path | None) -> None:
        self.run_path = Path(path) if path else None
        self._loaded = None
        self.run_label.setText(f"Run: {self.run_path.name}" if self.run_path else "No run chosen.")

    def start(self, source: str | None = None) -> Job | None:
        if self.run_path is None:
            self.error.emit("Choose a trained run first (runs list).")
            return None
        source = source or self.source_box.currentText()
        array = None
        if source == SOURCE_SCAN:
            if self.session.current is None:
                self.error.emit("Open a scan or a dataset sample first.")
                return None
            array = np.asarray(self.session.current.volume.array)
        split, index, path, cached = self.split_box.currentText(), self.index_spin.value(), self.run_path, self._loaded

        def work(_progress, _cancelled) -> tuple[LoadedRun, InferenceOutcome]:
            loaded = cached if cached is not None and cached.path == path else load_run(path)
            return loaded, run_inference(loaded, array, split, index)

        self.run_button.setEnabled(False)
        self.job = self.runner.run(f"Inference with {path.name}", work, on_success=self._on_done,
                                   on_failure=self._on_failed)
        return self.job

    def _on_done(self, payload: tuple[LoadedRun, InferenceOutcome]) -> None:
        self._loaded, self.outcome = payload
        self.run_button.setEnabled(True)
        self.show_result(self.outcome)
        self.recorded.emit(self.outcome.result.recording, f"Inference: {self.outcome.source}")
        self.energy.emit(self.outcome.energy)

    def _on_failed(self, message: str) -> None:
        self.run_button.setEnabled(True)
        self.error.emit(message)

    def show_result(self, outcome: InferenceOutcome) -> None:
        result = outcome.result
        confidence = float(result.probabilities[result.predicted_label])
        self.result_label.setText(f"<b>{result.label_name}</b><br>confidence {confidence:.1%}<br>{outcome.source}")
        image = result.model_input
        if image.ndim == 4:  # [C, D, H, W]: the middle slice
            image = image[:, image.shape[1] // 2]
        shown = display_image(image)
        self.input_image.setImage(shown, autoLevels=False, levels=(0, 255),
                                  lut=lookup_table("Grey") if shown.ndim == 2 else None)
        names = self._loaded.label_names if self._loaded else [str(i) for i in range(len(result.probabilities))]
        self.bars.setOpts(x=np.arange(len(result.probabilities)), height=result.probabilities,
                          brushes=["#fbbc04" if i == result.predicted_label else "#4fc3f7" for i in range(len(names))])
        self.prob_plot.getAxis("bottom").setTicks([[(i, n[:12]) for i, n in enumerate(names)]])
