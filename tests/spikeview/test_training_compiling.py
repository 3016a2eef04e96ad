"""The training panel while the model compiles: a busy bar and what is compiled, then the steps again."""
from __future__ import annotations

import pytest

from spikeview.controllers.training import TrainingController
from spikeview.jobs import JobRunner
from spikeview.panels.training import PROGRESS_STEPS, TrainingPanel
from spikeview.session import Session

pytestmark = pytest.mark.gui


def test_compiling_shows_a_busy_state_until_the_first_step(qtbot, tmp_path):
    session = Session(data_root=tmp_path)
    controller = TrainingController(session, JobRunner())
    panel = TrainingPanel(session, controller)
    qtbot.addWidget(panel)
    controller.started.emit({"run_dir": tmp_path / "run", "total_steps": 10, "epochs": 1, "history": [],
                             "parameters": 1234, "device": "cpu"})
    status = panel.status.text()
    controller.compiling.emit("Compiling the model for training (minutes the first time; cached afterwards)")
    assert panel.progress.maximum() == 0 and panel.progress.format() == "compiling…"  # a busy bar, not a stall
    assert "Compiling the model" in panel.status.text()
    controller.batch.emit({"step": 1, "total_steps": 10, "epoch": 0, "loss": 0.5, "lr": 1e-3, "images_per_s": 50.0,
                           "eta_s": 9.0})
    assert panel.progress.maximum() == PROGRESS_STEPS and panel.progress.value() == PROGRESS_STEPS // 10
    assert panel.status.text() == status and panel.progress.format().startswith("step 1/10")


def test_the_trainer_compiling_event_becomes_the_job_signal(qtbot, tmp_path):
    from engine.learning.trainer import TrainEvent
    from engine.options import TrainConfig
    from spikeview.controllers.training import TrainJob

    job = TrainJob(TrainConfig(), tmp_path / "run")
    with qtbot.waitSignal(job.compiling, timeout=1000) as signal:
        job._on_event(TrainEvent("compiling", message="Compiling the model for training"))
    assert signal.args == ["Compiling the model for training"]
