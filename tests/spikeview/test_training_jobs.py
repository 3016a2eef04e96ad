"""Training from the app: a real TrainJob on BreastMNIST (tiny model, few samples, one epoch)."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.learning.config import TrainConfig
from engine.runs.listing import list_runs
from spikeview.jobs import JobRunner
from spikeview.session import Session
from spikeview.views.runs_list import RunsList
from spikeview.views.training_panel import TrainingPanel

pytestmark = pytest.mark.gui

TINY = {"dims": [8, 16, 32], "heads": 2}


def tiny_config(medmnist_root: Path, **changes) -> TrainConfig:
    values = dict(dataset="breastmnist", data_root=str(medmnist_root), model="sdt_tiny", model_overrides=TINY,
                  timesteps=2, epochs=1, batch_size=16, train_limit=32, probe_every=1, eval_batch_size=128)
    values.update(changes)
    return TrainConfig(**values)


@pytest.fixture
def panel(qtbot, tmp_path, medmnist_root):
    session = Session(data_root=medmnist_root)
    session.set_runs_folder(tmp_path / "runs")
    runner = JobRunner()
    widget = TrainingPanel(session, runner)
    qtbot.addWidget(widget)
    widget.resize(1100, 600)
    widget.show()
    yield widget
    runner.cancel_all()
    runner.wait(20000)


def test_training_job_emits_epoch_curves_and_probes(qtbot, panel, medmnist_root, tmp_path) -> None:
    probes, epochs, curves = [], [], []
    panel.probe_recorded.connect(probes.append)
    job = panel.start(tiny_config(medmnist_root), tmp_path / "runs" / "one")
    job.epoch_done.connect(epochs.append)
    job.curves.connect(curves.append)
    with qtbot.waitSignal(panel.run_ended, timeout=90000) as ended:
        pass
    assert ended.args[1] == "finished"
    assert len(epochs) == 1 and {"train_loss", "val_acc", "val_auc", "images_per_s"} <= set(epochs[0])
    assert len(probes) == 2 and probes[-1].layers and probes[-1].timesteps == 2
    assert curves and curves[0].confusion.matrix.sum() > 0 and curves[0].roc
    run = tmp_path / "runs" / "one"
    assert {"config.json", "metrics.jsonl", "best.safetensors", "last.safetensors"} <= {p.name for p in run.iterdir()}
    assert panel.curves["val ACC"].getData()[1] is not None and panel.progress.value() == 1000
    runs = RunsList(panel.session)
    qtbot.addWidget(runs)
    assert [r.path.name for r in runs.runs] == ["one"] and runs.tree.topLevelItemCount() == 1
    assert panel.export_csv(tmp_path / "metrics.csv").read_text().startswith("epoch,")


def test_training_job_can_be_cancelled_and_resumed(qtbot, panel, medmnist_root, tmp_path) -> None:
    run = tmp_path / "runs" / "cancel"
    job = panel.start(tiny_config(medmnist_root, epochs=2, probe_every=0), run)
    job.epoch_done.connect(lambda _row: job.cancel())  # interrupt after the first epoch's checkpoint
    with qtbot.waitSignal(panel.run_ended, timeout=90000) as ended:
        pass
    assert ended.args[1] == "cancelled" and panel.cancel_button.isEnabled() is False
    summary = list_runs(tmp_path / "runs")[0]
    assert summary.resumable and summary.epochs_done == 1
    panel.show_run(run)
    assert len(panel.rows) == 1
    resumed = panel.resume(run)
    with qtbot.waitSignal(panel.run_ended, timeout=90000) as ended:
        pass
    assert resumed.resume and ended.args[1] == "finished"
    assert list_runs(tmp_path / "runs")[0].epochs_done == 2 and len(panel.rows) == 2


def test_failing_training_arrives_as_a_dialog(qtbot, window, dialogs, tmp_path) -> None:
    window.session.set_runs_folder(tmp_path / "runs")
    config = tiny_config(tmp_path / "no_data_here")
    window.training_panel.start(config, tmp_path / "runs" / "broken")

    with qtbot.waitSignal(window.training_panel.run_ended, timeout=30000, raising=False):
        pass
    qtbot.waitUntil(lambda: not window.training_panel.running, timeout=30000)
    assert "failed" in window.training_panel.progress.format()
    assert window.isVisible() and len(dialogs.errors) == 1 and "breastmnist" in dialogs.errors[0].lower()
