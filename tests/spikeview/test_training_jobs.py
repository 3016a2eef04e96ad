"""Training from the app: a real TrainJob on BreastMNIST (tiny model, few samples, one epoch)."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.options import TrainConfig
from engine.runs.listing import list_runs
from spikeview.controllers.runs import RunsController
from spikeview.controllers.training import TrainingController
from spikeview.jobs import JobRunner
from spikeview.panels.runs_list import COLUMNS, RunsList
from spikeview.panels.training import TrainingPanel, placement
from spikeview.session import Session

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
    widget = TrainingPanel(session, TrainingController(session, runner))
    qtbot.addWidget(widget)
    widget.resize(1100, 600)
    widget.show()
    with qtbot.waitSignal(widget.controller.choices_ready, timeout=60000):
        widget.controller.load_choices()  # the main window asks once the engine has started
    yield widget
    runner.cancel_all()
    runner.wait(20000)


def test_the_form_comes_from_the_engine_options(panel) -> None:
    form = panel.form
    assert form.widgets["epochs"].value() == TrainConfig().epochs and form.widgets["lr"].value() == TrainConfig().lr
    assert [form.widgets["loss"].itemText(i) for i in range(form.widgets["loss"].count())] == ["tet", "ce"]
    assert form.widgets["train_limit"].specialValueText() == "all" and form.values()["train_limit"] is None
    config = panel.config()
    assert config.data_root == str(panel.session.data_root) and config.probe_every == 20
    config.validate()
    formats = form.widgets["precision"]
    assert [formats.itemText(i) for i in range(formats.count())] == ["auto", "fp32", "bf16"]
    formats.setCurrentText("bf16")
    assert panel.config().precision == "bf16"


def test_the_status_says_where_and_in_which_number_format_a_run_trains() -> None:
    assert placement({"device": "cpu", "threads": 1, "processes": 1, "precision": "fp32"}) == "cpu, 1 CPU thread, fp32"
    assert placement({"device": "cuda", "processes": 4, "backend": "nccl", "precision": "bf16"}) \
        == "cuda × 4 processes (nccl), bf16"


def test_training_job_emits_epoch_curves_and_probes(qtbot, panel, medmnist_root, tmp_path) -> None:
    probes, epochs, curves = [], [], []
    panel.session.recording_changed.connect(lambda analysis, _source: probes.append(analysis.recording))
    job = panel.start(tiny_config(medmnist_root), tmp_path / "runs" / "one")
    job.epoch_done.connect(epochs.append)
    job.curves.connect(curves.append)
    with qtbot.waitSignal(panel.run_ended, timeout=90000) as ended:
        pass
    assert ended.args[1] == "finished"
    assert len(epochs) == 1 and {"train_loss", "val_acc", "val_auc", "images_per_s"} <= set(epochs[0])
    assert len(probes) == 2 and probes[-1].layers and probes[-1].timesteps == 2
    assert panel.session.recording_source == "Training probe: one, first val sample, step 2"
    assert curves and curves[0].confusion.matrix.sum() > 0 and curves[0].roc
    run = tmp_path / "runs" / "one"
    assert {"config.json", "metrics.jsonl", "best.safetensors", "last.safetensors"} <= {p.name for p in run.iterdir()}
    assert panel.plots.curves["val ACC"].getData()[1] is not None and panel.progress.value() == 1000
    runs_controller = RunsController(panel.session, panel.controller.runner)
    runs = RunsList(panel.session, runs_controller)
    qtbot.addWidget(runs)
    with qtbot.waitSignal(runs_controller.listed, timeout=10000):
        runs_controller.refresh(select=run)
    assert [r.path.name for r in runs.runs] == ["one", "sample_run"] and runs.tree.topLevelItemCount() == 2
    assert runs.tree.topLevelItem(1).text(0) == "sample model (ships with SpikeView)"
    assert panel.session.run == run, "the listed run is selected, so it becomes the session's run"
    with qtbot.waitSignal(panel.controller.csv_written, timeout=10000) as written:
        panel.controller.export_csv(run, tmp_path / "metrics.csv")
    assert written.args[0].read_text().startswith("epoch,")


def test_training_job_can_be_cancelled_and_resumed(qtbot, panel, medmnist_root, tmp_path) -> None:
    run = tmp_path / "runs" / "cancel"
    job = panel.start(tiny_config(medmnist_root, epochs=2, probe_every=0), run)
    job.epoch_done.connect(lambda _row: job.cancel())  # interrupt after the first epoch's checkpoint
    with qtbot.waitSignal(panel.run_ended, timeout=90000) as ended:
        pass
    assert ended.args[1] == "cancelled" and panel.cancel_button.isEnabled() is False
    summary = list_runs(tmp_path / "runs")[0]
    assert summary.resumable and summary.epochs_done == 1 and summary.state == "cancelled"
    runs_controller = RunsController(panel.session, panel.controller.runner)
    runs = RunsList(panel.session, runs_controller)
    qtbot.addWidget(runs)
    with qtbot.waitSignal(runs_controller.listed, timeout=10000):
        runs_controller.refresh()
    assert runs.tree.topLevelItem(0).text(COLUMNS.index("state")) == "cancelled after 1 of 2 epochs (resumable)"
    with qtbot.waitSignal(panel.controller.run_opened, timeout=10000):
        panel.show_run(run)
    assert len(panel.plots.rows) == 1 and panel.form.values()["epochs"] == 2
    resumed = panel.resume(run)
    with qtbot.waitSignal(panel.run_ended, timeout=90000) as ended:
        pass
    assert resumed.resume and ended.args[1] == "finished"
    assert list_runs(tmp_path / "runs")[0].epochs_done == 2 and len(panel.plots.rows) == 2


@pytest.mark.slow
def test_training_on_two_processes_shows_them_and_still_probes(qtbot, panel, medmnist_root, tmp_path) -> None:
    panel.form.widgets["processes"].setValue(2)
    assert panel.config().processes == 2, "the Processes field comes from the engine's options"
    probes = []
    panel.session.recording_changed.connect(lambda analysis, _source: probes.append(analysis))
    panel.start(tiny_config(medmnist_root, processes=2), tmp_path / "runs" / "two")
    with qtbot.waitSignal(panel.controller.started, timeout=90000):
        pass
    assert "× 2 processes (gloo), fp32" in panel.status.text()
    with qtbot.waitSignal(panel.run_ended, timeout=120000) as ended:
        pass
    assert ended.args[1] == "finished" and probes, "rank 0 trains in the app's process and records probes"
    assert [row["epoch"] for row in panel.plots.rows] == [0]


def test_a_run_is_named_in_the_runs_folder(qtbot, panel, medmnist_root, tmp_path) -> None:
    job = panel.start(tiny_config(medmnist_root, probe_every=0))
    with qtbot.waitSignal(panel.run_ended, timeout=90000) as ended:
        pass
    assert ended.args[1] == "finished" and job.run_dir.parent == tmp_path / "runs"
    assert job.run_dir.name.startswith("breastmnist_28-sdt_tiny-")


def test_failing_training_arrives_as_a_dialog(qtbot, window, dialogs, tmp_path) -> None:
    window.session.set_runs_folder(tmp_path / "runs")
    config = tiny_config(tmp_path / "no_data_here")
    window.training_panel.start(config, tmp_path / "runs" / "broken")

    with qtbot.waitSignal(window.training_panel.run_ended, timeout=30000, raising=False):
        pass
    qtbot.waitUntil(lambda: not window.training.running and not window.busy, timeout=30000)
    assert "failed" in window.training_panel.progress.format()
    assert window.isVisible() and len(dialogs.errors) == 1 and "breastmnist" in dialogs.errors[0].lower()


def test_a_training_run_uses_the_thread_count_set_now(qtbot, tmp_path, medmnist_root) -> None:
    """OpenMP keeps torch's thread count per thread: a pool thread that ran torch before would train
    with the count of that time. A run has a thread of its own, so the count set now holds."""
    import torch

    before = torch.get_num_threads()
    session = Session(data_root=medmnist_root)
    runner = JobRunner(max_threads=1)
    try:
        torch.set_num_threads(2)
        warm = runner.run("torch on the pool", lambda _p, _c: torch.ones(512, 512).sum().item())
        qtbot.waitUntil(lambda: warm.done, timeout=10000)
        torch.set_num_threads(1)  # as a thread setting applied after start-up would
        controller = TrainingController(session, runner)
        with qtbot.waitSignal(controller.started, timeout=60000) as started:
            job = controller.start(tiny_config(medmnist_root, probe_every=0), tmp_path / "threads")
        assert started.args[0]["threads"] == 1
        job.cancel()
        with qtbot.waitSignal(controller.run_ended, timeout=60000):
            pass
    finally:
        torch.set_num_threads(before)
        runner.wait(20000)
