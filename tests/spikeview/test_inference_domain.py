"""The inference panel on inputs a model can and cannot judge: a BreastMNIST (ultrasound) model on a head
CT says so before any class, shows the exact input it saw and how it was made, lets the user choose the
plane and slice, and shows the class only when asked; its own test images get the answer at once."""
from __future__ import annotations

import pytest

from engine.io import load
from spikeview.controllers.inference import SOURCE_DATASET, SOURCE_SCAN, InferenceController
from spikeview.jobs import JobRunner
from spikeview.panels.inference import InferencePanel
from spikeview.session import Session

pytestmark = pytest.mark.gui


@pytest.fixture
def panel(qtbot, breast_run, medmnist_root, volumes_dir):
    session = Session(data_root=medmnist_root)
    panel = InferencePanel(session, InferenceController(session, JobRunner()))
    qtbot.addWidget(panel)
    panel.resize(1000, 520)
    panel.show()
    session.add_scan(load(volumes_dir / "CT_pitch.nii.gz"))
    with qtbot.waitSignal(panel.controller.domain_read, timeout=30000):
        session.set_run(breast_run)
    return panel


def _infer(qtbot, panel, source: str):
    with qtbot.waitSignal(panel.controller.finished, timeout=60000):
        assert panel.start(source) is not None
    return panel.controller.outcome


def test_the_panel_says_what_the_run_was_trained_on_and_offers_a_plane(panel) -> None:
    assert panel.domain_label.text() == "Trained on breastmnist (ultrasound), 2D, 1 channel, 28 px."
    panel.source_box.setCurrentText(SOURCE_SCAN)
    assert panel.plane_box.isVisible() and panel.slice_spin.isVisible() and not panel.index_spin.isVisible()
    panel.choose_plane("sagittal")
    assert panel.slice_spin.maximum() == 174 and panel.slice_spin.value() == 87  # CT_pitch: 175 sagittal slices
    panel.source_box.setCurrentText(SOURCE_DATASET)
    assert not panel.plane_box.isVisible() and panel.index_spin.isVisible()


def test_a_ct_for_an_ultrasound_model_is_flagged_before_any_class(qtbot, panel) -> None:
    outcome = _infer(qtbot, panel, SOURCE_SCAN)
    assert outcome.withheld and panel.session.recording is None, "no class and no outputs over time yet"
    flags = panel.flags_label.text()
    assert "Outside the model's domain" in flags and "trained on ultrasound images (breastmnist), but CT_pitch is a CT scan" in flags
    assert "without a chosen plane and slice" in flags
    assert panel.input_label.text().startswith("<b>The model saw</b> axial slice 29 of 58 (no plane chosen) of CT_pitch")
    assert "withheld" in panel.result_label.text() and panel.reveal_button.isVisible()
    assert panel.prediction.input_image.image is not None and len(panel.prediction.bars.opts["height"]) == 0

    panel.reveal_button.click()
    assert panel.session.recording is not None and "confidence" in panel.result_label.text()
    assert "not an answer" in panel.result_label.text() and not panel.reveal_button.isVisible()
    assert len(panel.prediction.bars.opts["height"]) == 2


def test_the_chosen_plane_and_slice_are_what_the_model_sees(qtbot, panel) -> None:
    panel.source_box.setCurrentText(SOURCE_SCAN)
    panel.choose_plane("coronal", 100)
    outcome = _infer(qtbot, panel, SOURCE_SCAN)
    provenance = outcome.result.provenance
    assert (provenance.plane, provenance.plane_chosen, provenance.slice_index) == ("coronal", True, 100)
    assert "coronal slice 100 of 248 of CT_pitch" in panel.input_label.text()
    assert [flag.code for flag in outcome.result.flags] == ["modality"]


def test_its_own_test_images_get_the_answer_at_once(qtbot, panel) -> None:
    panel.index_spin.setValue(5)
    outcome = _infer(qtbot, panel, SOURCE_DATASET)
    assert outcome.revealed and outcome.result.flags == []
    assert not panel.flags_label.isVisible() and not panel.reveal_button.isVisible()
    assert "confidence" in panel.result_label.text() and "not an answer" not in panel.result_label.text()
    assert panel.session.recording_source.endswith(": breastmnist test #5")
