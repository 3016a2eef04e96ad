"""Inference from the app: the session's run on a sample (the open scan, or a sample of the run's dataset),
asked of the `InferenceController`. The panel says what the run was trained on, lets the user choose the
plane and slice a 2D model sees of a 3D scan, and after inference shows, in this order: whether the
model can judge the input (the engine's domain flags), how the input was made from the scan, the input
itself, and only then the class. For an input outside the model's domain the class stays hidden until
"Show the answer anyway" is pressed."""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from engine.data.spec import SPLITS
from engine.io.volume import VIEW_AXES
from spikeview.controllers.inference import SOURCE_DATASET, SOURCE_SCAN, InferenceController, InferenceOutcome
from spikeview.jobs import Job
from spikeview.session import Session
from spikeview.views.prediction_view import PredictionView
from spikeview.views.reliability_view import ReliabilityView

NO_RUN = "No run chosen: select one in the runs list."
NO_PLANE = "not chosen"
WARNING_STYLE = "QLabel { color: #ffffff; background: #5c1f1f; border: 1px solid #e06666; border-radius: 4px; padding: 6px; }"
NOTE_STYLE = "QLabel { color: #ffffff; background: #3d3a24; border: 1px solid #c9b458; border-radius: 4px; padding: 6px; }"


class InferencePanel(QWidget):
    def __init__(self, session: Session, controller: InferenceController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.controller = session, controller
        self.run_label = QLabel(NO_RUN)
        self.run_label.setWordWrap(True)
        self.domain_label = QLabel("")
        self.domain_label.setWordWrap(True)
        self.source_box = QComboBox()
        self.source_box.addItems([SOURCE_DATASET, SOURCE_SCAN])
        self.split_box = QComboBox()
        self.split_box.addItems(list(reversed(SPLITS)))  # test first
        self.index_spin = QSpinBox()
        self.index_spin.setRange(0, 10_000_000)
        self.plane_box = QComboBox()
        self.plane_box.addItems([NO_PLANE, *VIEW_AXES])
        self.slice_spin = QSpinBox()
        self.run_button = QPushButton("Run inference")
        self.run_button.clicked.connect(lambda: self.start())
        self.flags_label = self._wrapping_label()
        self.input_label = self._wrapping_label()
        self.result_label = self._wrapping_label()
        self.reveal_button = QPushButton("Show the answer anyway")
        self.reveal_button.clicked.connect(controller.reveal)
        self.prediction = PredictionView()
        self.form = QFormLayout()
        for label, field in (("Sample", self.source_box), ("Split", self.split_box), ("Index", self.index_spin),
                             ("Plane", self.plane_box), ("Slice", self.slice_spin)):
            self.form.addRow(label, field)
        left = QVBoxLayout()
        for widget in (self.run_label, self.domain_label):
            left.addWidget(widget)
        left.addLayout(self.form)
        for widget in (self.run_button, self.flags_label, self.input_label, self.result_label, self.reveal_button):
            left.addWidget(widget)
        left.addStretch(1)
        holder = QWidget()
        holder.setLayout(left)
        holder.setMaximumWidth(340)
        layout = QHBoxLayout(self)
        layout.addWidget(holder)
        layout.addWidget(self.prediction, 2)
        self.reliability = ReliabilityView()
        layout.addWidget(self.reliability, 1)
        self._clear_outcome()
        session.run_changed.connect(self._show_run)
        session.current_changed.connect(lambda _scan: self._show_plane_choice())
        self.source_box.currentTextChanged.connect(lambda _text: self._show_plane_choice())
        self.plane_box.currentTextChanged.connect(self._on_plane_chosen)
        self._show_run(session.run)
        controller.domain_read.connect(self._show_domain)
        controller.finished.connect(self.show_outcome)
        controller.revealed.connect(self.show_answer)
        controller.failed.connect(lambda _message: self.run_button.setEnabled(True))

    @staticmethod
    def _wrapping_label() -> QLabel:
        label = QLabel("")
        label.setWordWrap(True)
        return label

    # ---- the run and the choice of input -------------------------------------------------------------
    def _show_run(self, path: Path | None) -> None:
        self.run_label.setText(f"Run: {path.name}" if path else NO_RUN)
        self.domain_label.setText("")
        self._show_plane_choice()

    def _show_domain(self, path: Path | None, domain, problem: str) -> None:
        if path != self.session.run:
            return
        if domain is None:
            self.domain_label.setText(problem)
        else:
            unrecorded = "" if domain.recorded else " (its training intensities were not recorded)"
            self.domain_label.setText(f"Trained on {domain.description}{unrecorded}.")
        self._show_plane_choice()

    def _show_plane_choice(self) -> None:
        """Plane and slice: only for a 2D model on the open 3D scan."""
        wanted = self.source_box.currentText() == SOURCE_SCAN and self.controller.needs_plane()
        for field in (self.plane_box, self.slice_spin):
            field.setVisible(wanted)
            self.form.labelForField(field).setVisible(wanted)
        is_dataset = self.source_box.currentText() == SOURCE_DATASET
        for field in (self.split_box, self.index_spin):
            field.setVisible(is_dataset)
            self.form.labelForField(field).setVisible(is_dataset)
        self._on_plane_chosen(self.plane_box.currentText())

    def _on_plane_chosen(self, plane: str) -> None:
        scan = self.session.current
        chosen = plane in VIEW_AXES and scan is not None and not scan.volume.is_2d
        self.slice_spin.setEnabled(chosen)
        if chosen:
            count = scan.volume.spatial_shape[VIEW_AXES[plane]]
            if self.slice_spin.maximum() != count - 1:
                self.slice_spin.setRange(0, count - 1)
                self.slice_spin.setValue(count // 2)

    def choose_plane(self, plane: str | None, slice_index: int | None = None) -> None:
        """Pick the plane (None: not chosen) and slice, as the user would."""
        self.plane_box.setCurrentText(plane or NO_PLANE)
        if slice_index is not None:
            self.slice_spin.setValue(slice_index)

    def chosen_plane(self) -> tuple[str | None, int | None]:
        plane = self.plane_box.currentText()
        return (plane, self.slice_spin.value()) if plane in VIEW_AXES else (None, None)

    def start(self, source: str | None = None) -> Job | None:
        source = source or self.source_box.currentText()
        plane, slice_index = self.chosen_plane() if source == SOURCE_SCAN and self.controller.needs_plane() \
            else (None, None)
        job = self.controller.start(source, self.split_box.currentText(), self.index_spin.value(), plane, slice_index)
        self.run_button.setEnabled(job is None)
        if job is not None:
            self._clear_outcome()
        return job

    # ---- the outcome: the verdict, how the input was made, the input, then the class ------------------
    def _clear_outcome(self) -> None:
        for label in (self.flags_label, self.input_label, self.result_label):
            label.setText("")
            label.hide()
        self.reveal_button.hide()
        self.prediction.clear()
        self.reliability.clear()

    def show_outcome(self, outcome: InferenceOutcome) -> None:
        self.run_button.setEnabled(True)
        result = outcome.result
        self._show_flags(result.flags)
        self.input_label.setText(f"<b>The model saw</b> {html.escape(result.provenance.describe())}.")
        self.input_label.show()
        self.prediction.show_input(result.model_input)
        if outcome.withheld:
            self.result_label.setText("The answer is withheld: the model cannot judge this input.")
            self.result_label.show()
            self.reveal_button.show()

    def _show_flags(self, flags) -> None:
        if not flags:
            self.flags_label.hide()
            return
        warnings = [f for f in flags if f.severity == "warning"]
        header = "<b>Outside the model's domain</b>" if warnings else "<b>Note</b>"
        items = "".join(f"<li>{html.escape(flag.message)}</li>" for flag in flags)
        self.flags_label.setText(f"{header}<ul style='margin-left: -20px'>{items}</ul>")
        self.flags_label.setStyleSheet(WARNING_STYLE if warnings else NOTE_STYLE)
        self.flags_label.show()

    def show_answer(self, outcome: InferenceOutcome) -> None:
        """The class and its probabilities (at once in the model's domain, on request outside it)."""
        result = outcome.result
        confidence = float(result.probabilities[result.predicted_label])
        caveat = "" if result.in_domain else "<br><i>outside the model's domain: not an answer</i>"
        self.result_label.setText(f"<b>{html.escape(result.label_name)}</b><br>confidence {confidence:.1%}<br>"
                                  f"{html.escape(outcome.source)}{caveat}")
        self.result_label.show()
        self.reveal_button.hide()
        self.prediction.show_probabilities(result.probabilities, outcome.label_names, result.predicted_label)
        calibrated = result.calibrated_probabilities
        calibrated_confidence = float(calibrated[result.predicted_label]) if calibrated is not None else float("nan")
        self.reliability.show_calibration(outcome.calibration, confidence, calibrated_confidence)
