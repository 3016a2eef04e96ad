"""Inference from the app: the session's run on a sample (the open scan, or a sample of the run's
dataset), asked of the `InferenceController`; shows the class probabilities, the preprocessed input
the model saw and the confidence. The recorded dynamics go to the session (the dynamics view)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from engine.data.spec import SPLITS
from spikeview.controllers.inference import SOURCE_DATASET, SOURCE_SCAN, InferenceController, InferenceOutcome
from spikeview.jobs import Job
from spikeview.session import Session
from spikeview.views.prediction_view import PredictionView
from spikeview.views.reliability_view import ReliabilityView

NO_RUN = "No run chosen: select one in the runs list."


class InferencePanel(QWidget):
    def __init__(self, session: Session, controller: InferenceController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.controller = session, controller
        self.run_label = QLabel(NO_RUN)
        self.run_label.setWordWrap(True)
        self.source_box = QComboBox()
        self.source_box.addItems([SOURCE_DATASET, SOURCE_SCAN])
        self.split_box = QComboBox()
        self.split_box.addItems(list(reversed(SPLITS)))  # test first
        self.index_spin = QSpinBox()
        self.index_spin.setRange(0, 10_000_000)
        self.run_button = QPushButton("Run inference")
        self.run_button.clicked.connect(lambda: self.start())
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        self.prediction = PredictionView()
        form = QFormLayout()
        form.addRow("Sample", self.source_box)
        form.addRow("Split", self.split_box)
        form.addRow("Index", self.index_spin)
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
        layout.addWidget(self.prediction, 2)
        self.reliability = ReliabilityView()
        layout.addWidget(self.reliability, 1)
        session.run_changed.connect(self._show_run)
        self._show_run(session.run)
        controller.finished.connect(self.show_outcome)
        controller.failed.connect(lambda _message: self.run_button.setEnabled(True))

    def _show_run(self, path: Path | None) -> None:
        self.run_label.setText(f"Run: {path.name}" if path else NO_RUN)

    def start(self, source: str | None = None) -> Job | None:
        job = self.controller.start(source or self.source_box.currentText(), self.split_box.currentText(),
                                    self.index_spin.value())
        self.run_button.setEnabled(job is None)
        return job

    def show_outcome(self, outcome: InferenceOutcome) -> None:
        self.run_button.setEnabled(True)
        result = outcome.result
        confidence = float(result.probabilities[result.predicted_label])
        self.result_label.setText(f"<b>{result.label_name}</b><br>confidence {confidence:.1%}<br>{outcome.source}")
        self.prediction.show_prediction(result.model_input, result.probabilities, outcome.label_names,
                                        result.predicted_label)
        calibrated = result.calibrated_probabilities
        calibrated_confidence = float(calibrated[result.predicted_label]) if calibrated is not None else float("nan")
        self.reliability.show_calibration(outcome.calibration, confidence, calibrated_confidence)
