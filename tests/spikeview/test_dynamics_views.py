"""The dynamics views fed by a Recording from a real inference (a briefly trained tiny model)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from engine.learning.trainer import Trainer
from engine.options import TrainConfig
from engine.probe.recording import Recording
from spikeview.controllers.files import FilesController
from spikeview.controllers.inference import InferenceController
from spikeview.jobs import JobRunner
from spikeview.panels.inference import InferencePanel
from spikeview.session import Session
from spikeview.views.dynamics_view import DynamicsView

pytestmark = pytest.mark.gui


def pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    return data.reshape(image.height(), image.bytesPerLine())[:, :3 * image.width()].reshape(image.height(), image.width(), 3)


def assert_not_blank(image: QImage | np.ndarray) -> None:
    array = pixels(image) if isinstance(image, QImage) else image
    assert array.size and array.std() > 8 and len(np.unique(array.reshape(-1, 3), axis=0)) > 16


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, medmnist_root) -> Path:
    run = tmp_path_factory.mktemp("runs") / "breast"
    config = TrainConfig(dataset="breastmnist", data_root=str(medmnist_root), model="sdt_tiny",
                         model_overrides={"dims": [8, 16, 32], "heads": 2}, timesteps=3, epochs=1, batch_size=16,
                         train_limit=48, eval_batch_size=128)
    Trainer(config, run).run()
    return run


@pytest.fixture
def inferred(qtbot, trained_run, medmnist_root):
    session = Session(data_root=medmnist_root)
    runner = JobRunner()
    panel = InferencePanel(session, InferenceController(session, runner))
    qtbot.addWidget(panel)
    session.set_run(trained_run)
    panel.index_spin.setValue(3)
    with qtbot.waitSignal(panel.controller.finished, timeout=60000):
        panel.start()
    if panel.controller.outcome.withheld:  # a network this briefly trained may fire no spikes yet
        panel.reveal_button.click()
    assert session.recording is not None
    return panel, session


def test_inference_panel_shows_probabilities_and_input(qtbot, inferred) -> None:
    panel, session = inferred
    outcome = panel.controller.outcome
    assert np.isclose(outcome.result.probabilities.sum(), 1.0) and outcome.result.energy.ann_energy_pj > 0
    assert "confidence" in panel.result_label.text() and session.recording.recording.timesteps == 3
    assert session.recording_source == "Inference with breast: breastmnist test #3" and panel.run_label.text() == "Run: breast"
    panel.resize(900, 400)
    panel.show()
    assert_not_blank(panel.grab().toImage())


def test_dynamics_views_render_a_recording(qtbot, inferred, tmp_path) -> None:
    panel, session = inferred
    recording = session.recording.recording
    dynamics = DynamicsView(session)
    qtbot.addWidget(dynamics)
    dynamics.resize(1000, 650)
    dynamics.show()
    dynamics.show_recording(session.recording, "test")
    assert dynamics.energy.report is panel.controller.outcome.result.energy
    layer = next(iter(recording.layers))
    assert len(dynamics.traces.selected) == 1, "the most active neuron shows without a click"
    dynamics.raster.neuron_selected.emit(layer, 5)
    dynamics.scrubber.set_timestep(2)
    assert session.timestep == 2 and dynamics.scrubber.label.text() == "t = 3 / 3"
    cursors = [view.cursor.value() for view in (dynamics.raster, dynamics.traces, dynamics.outputs)]
    assert cursors == [3, 3, 3], "one time axis: timestep t at x = t + 1 in every view"
    assert dynamics.traces.selected[-1] == (layer, 5)
    assert dynamics.attention.saliency is not None and dynamics.attention.saliency.shape == (28, 28)
    for index in range(dynamics.tabs.count()):
        dynamics.tabs.setCurrentIndex(index)
        qtbot.wait(20)
        assert_not_blank(dynamics.current_view_image())
    dynamics.save_png(tmp_path / "view.png")
    assert_not_blank(QImage(str(tmp_path / "view.png")))
    files = FilesController(session, panel.controller.runner)
    job = files.save_recording(tmp_path / "rec.npz")
    qtbot.waitUntil(lambda: job.done, timeout=10000)
    saved = Recording.load(tmp_path / "rec.npz")
    assert list(saved.layers) == list(recording.layers) and not saved.multi_label


def test_scrubber_plays_through_timesteps(qtbot, inferred) -> None:
    _panel, session = inferred
    recording = session.recording.recording
    dynamics = DynamicsView(session)
    qtbot.addWidget(dynamics)
    seen: list[int] = []
    session.timestep_changed.connect(seen.append)
    dynamics.scrubber.speed_box.setCurrentText("30 steps/s")
    dynamics.scrubber.set_playing(True)
    qtbot.waitUntil(lambda: len(set(seen)) == recording.timesteps, timeout=5000)
    dynamics.scrubber.set_playing(False)
    assert not dynamics.scrubber.timer.isActive()


@pytest.mark.vtk
def test_attention_blends_into_3d_slices_and_volume(qtbot, medmnist_root) -> None:
    import torch

    from engine.data.catalog import get_spec, load_split
    from engine.models import create_model
    from engine.probe.analysis import analyse
    from engine.probe.recorder import record_sample

    spec = get_spec("adrenalmnist3d", 28)
    images, _ = load_split(spec, "test", medmnist_root)
    model = create_model("sdt_tiny", in_channels=1, num_classes=2, spatial_dims=3, timesteps=2, input_size=28,
                         dims=(8, 16, 32), heads=2)
    sample = torch.from_numpy(images[0][None].astype(np.float32) / 255)
    recording = record_sample(model, sample, 2, label_names=["a", "b"])
    session = Session(data_root=medmnist_root)
    dynamics = DynamicsView(session)
    qtbot.addWidget(dynamics)
    dynamics.resize(900, 700)
    dynamics.show()
    dynamics.tabs.setCurrentWidget(dynamics.attention)
    session.set_recording(analyse(recording))
    qtbot.wait(50)
    attention = dynamics.attention
    assert attention.stack.currentWidget() is attention.grid_3d and attention.saliency.shape == (28, 28, 28)
    assert_not_blank(attention.planes_3d[0].grab().toImage())
    frame = attention.capture_volume()
    assert frame is not None and frame.std() > 3
    saved = dynamics.current_view_image()  # "Save PNG": what is on screen, the VTK pane included
    pane = attention.volume_3d.vtk_widget
    origin = pane.mapTo(attention, pane.rect().topLeft())
    ratio = saved.devicePixelRatio()
    region = saved.copy(int(origin.x() * ratio), int(origin.y() * ratio), int(pane.width() * ratio),
                        int(pane.height() * ratio)).convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(region.constBits(), np.uint8).reshape(region.height(), region.bytesPerLine())
    assert pixels[:, : 3 * region.width()].std() > 3, "the VTK pane is in the PNG, not black"
