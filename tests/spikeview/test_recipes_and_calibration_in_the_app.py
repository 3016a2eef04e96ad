"""The app's side of the recipes and of calibration: "Recommended settings" in the training panel,
the reliability diagram in the inference panel (a real, briefly trained run on BreastMNIST)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.learning.trainer import Trainer
from engine.options import TrainConfig
from engine.recipes import recommended
from engine.runs.calibration import read_calibration
from spikeview.controllers.inference import InferenceController
from spikeview.controllers.training import TrainingController
from spikeview.jobs import JobRunner
from spikeview.panels.inference import InferencePanel
from spikeview.panels.training import TrainingPanel
from spikeview.session import Session
from spikeview.views.reliability_view import EMPTY, NO_CALIBRATION, ReliabilityView

pytestmark = pytest.mark.gui


def _not_blank(widget) -> None:
    image = widget.grab().toImage().convertToFormat(widget.grab().toImage().Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    assert data.std() > 8


def test_recommended_settings_fill_the_form_and_keep_what_it_does_not_show(qtbot, tmp_path, medmnist_root):
    session = Session(data_root=medmnist_root)
    runner = JobRunner()
    panel = TrainingPanel(session, TrainingController(session, runner))
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.controller.choices_ready, timeout=60000):
        panel.controller.load_choices()  # the main window asks once the engine has started
    assert panel.form.values()["model"] == "sdt_tiny"  # a CPU-sized default
    panel.form.widgets["dataset"].setCurrentText("pneumoniamnist")
    with qtbot.waitSignal(panel.controller.recommended_settings, timeout=20000):
        panel.recommend_button.click()
    recipe = recommended("pneumoniamnist", 28).config(data_root=str(medmnist_root))
    assert panel.form.values()["epochs"] == recipe.epochs and panel.form.values()["lr"] == pytest.approx(recipe.lr)
    panel.form.widgets["epochs"].setValue(2)  # the user's change wins, the rest of the recipe stays
    config = panel.config()
    assert config.epochs == 2 and config.dataset == "pneumoniamnist"
    assert (config.tta, config.augment, config.weight_decay) == (recipe.tta, recipe.augment, recipe.weight_decay)
    runner.wait(5000)


@pytest.fixture(scope="module")
def calibrated_run(tmp_path_factory, medmnist_root) -> Path:
    run = tmp_path_factory.mktemp("runs") / "breast"
    config = TrainConfig(dataset="breastmnist", data_root=str(medmnist_root), model_overrides={"dims": [8, 16, 32],
                         "heads": 2}, timesteps=2, epochs=1, batch_size=16, train_limit=64, tta="flip")
    Trainer(config, run).run()
    return run


def test_inference_panel_shows_the_reliability_diagram(qtbot, calibrated_run, medmnist_root):
    session = Session(data_root=medmnist_root)
    panel = InferencePanel(session, InferenceController(session, JobRunner()))
    qtbot.addWidget(panel)
    assert panel.reliability.summary.text() == EMPTY
    session.set_run(calibrated_run)
    with qtbot.waitSignal(panel.controller.finished, timeout=60000):
        panel.start()
    if panel.controller.outcome.withheld:  # a network this briefly trained may fire no spikes yet
        panel.reveal_button.click()
    view = panel.reliability
    expected = read_calibration(calibrated_run)
    assert view.calibration is not None and view.calibration.temperature == pytest.approx(expected.temperature)
    assert "ECE" in view.summary.text() and "calibrated" in view.summary.text()
    assert len(view.after.opts["height"]) == len(expected.reliability["after"].counts)
    panel.resize(1200, 400)
    panel.show()
    _not_blank(view)


def test_reliability_view_without_a_calibration(qtbot):
    view = ReliabilityView()
    qtbot.addWidget(view)
    view.show_calibration(None)
    assert view.summary.text() == NO_CALIBRATION and len(view.before.opts["height"]) == 0
