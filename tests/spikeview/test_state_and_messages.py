"""The first hour in the app (issue 11): state that tells the truth, and views that say why they show
nothing. Each test is one case of the issue, on the real main window."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.options import TrainConfig
from engine.probe.analysis import analyse
from engine.probe.recording import LayerRecord, Recording
from spikeview.resources import sample_run_path
from waiting import wait_idle as _idle

pytestmark = pytest.mark.gui

TINY = {"dims": [8, 16, 32], "heads": 2}



def _open(qtbot, window, *paths) -> None:
    window.open_paths(paths)
    _idle(qtbot, window)


def _ready(qtbot, window) -> None:
    """The engine has started and the training form has its datasets and models."""
    qtbot.waitUntil(lambda: window.training_panel.ready, timeout=120000)
    _idle(qtbot, window)


# ---- state that tells the truth ------------------------------------------------------------------
def test_choosing_a_past_run_shows_it_and_leaves_the_form(qtbot, window) -> None:
    _ready(qtbot, window)
    panel = window.training_panel
    form_before = panel.form.values()
    with qtbot.waitSignal(window.training.run_opened, timeout=30000):
        window.session.set_run(sample_run_path())
    assert panel.form.values() == form_before, "Start must train what the form says, not the run clicked"
    assert panel.shown_box.isVisible() and "sample_run" in panel.shown_label.text()
    assert panel.shown_record.config.dataset in panel.shown_label.text()
    panel.use_settings_button.click()
    assert panel.form.values()["dataset"] == panel.shown_record.config.dataset
    assert panel.form.values()["epochs"] == panel.shown_record.config.epochs


def test_a_finished_run_keeps_its_curves_and_a_new_start_clears_them(qtbot, window, medmnist_root, tmp_path) -> None:
    _ready(qtbot, window)
    window.session.set_runs_folder(tmp_path / "runs")
    _idle(qtbot, window)
    panel, plots = window.training_panel, window.training_panel.plots
    config = TrainConfig(dataset="breastmnist", data_root=str(medmnist_root), model="sdt_tiny", model_overrides=TINY,
                         timesteps=2, epochs=1, batch_size=16, train_limit=32, probe_every=1)
    panel.start(config, tmp_path / "runs" / "first")
    with qtbot.waitSignal(window.training.run_ended, timeout=180000):
        pass
    _idle(qtbot, window)  # the runs list refreshed, selected the run, the panel showed it again
    assert window.session.run == tmp_path / "runs" / "first"
    assert plots.confusion_image.image is not None and plots.roc_plot.listDataItems(), "kept after the end"
    assert plots.confusion_plot.getPlotItem().titleLabel.text.startswith("confusion (val, epoch 1)")
    assert window.session.recording_source.startswith("Training probe: first,"), "tied to its run"
    assert "malignant" in [tick for _pos, tick in plots.confusion_plot.getAxis("bottom")._tickLevels[0]]
    panel.start(config, tmp_path / "runs" / "second")
    assert plots.confusion_image.image is None and not plots.roc_plot.listDataItems(), "cleared on a new start"
    assert plots.confusion_plot.getAxis("bottom")._tickLevels is None, "no labels of the previous run"
    assert plots.empty_notes[plots.confusion_plot].text
    window.training.cancel()
    with qtbot.waitSignal(window.training.run_ended, timeout=180000):
        pass


def test_switching_scans_clears_the_readout_and_the_crosshair(qtbot, window, volumes_dir: Path) -> None:
    _open(qtbot, window, volumes_dir / "CT_AVM.nii.gz")
    ortho = window.scan_view.ortho_view
    ortho.set_crosshair((10, 20, 30))
    ortho.views["axial"].cursor_moved.emit((10, 20, 30))
    assert window.cursor_label.text().startswith("voxel (10, 20, 30)")
    _open(qtbot, window, volumes_dir / "MR_Gd.nii.gz")
    assert window.cursor_label.text() == "", "the readout of the scan shown before is gone"
    assert ortho.crosshair == tuple(n // 2 for n in window.session.current.volume.spatial_shape)
    axial = ortho.views["axial"]
    assert axial.vline.isVisible() and axial.vline.value() != 10.5 * axial._pixel[0]


def test_the_window_box_tells_a_dragged_window_and_it_is_kept_per_scan(qtbot, window, volumes_dir: Path) -> None:
    path = volumes_dir / "CT_AVM.nii.gz"
    _open(qtbot, window, path)
    axial = window.scan_view.ortho_view.views["axial"]
    default = axial.levels
    axial.drag_window(40, -25)  # a right-drag
    dragged = axial.levels
    assert dragged != default
    box = window.toolbar.preset_box
    assert box.currentText().startswith("Custom (W "), "not the preset it no longer shows"
    window.files.close_current_scan()
    _open(qtbot, window, path)
    assert window.scan_view.ortho_view.views["axial"].levels == pytest.approx(dragged), "kept for this file"
    assert box.currentText().startswith("Custom (W ")
    box.setCurrentText("Auto (1-99 %)")
    box.activated.emit(box.currentIndex())
    assert box.currentText() == "Auto (1-99 %)" and box.findText("Custom", Qt.MatchFlag.MatchStartsWith) < 0


def test_opening_the_same_scan_twice_gives_one_entry(qtbot, window, volumes_dir: Path) -> None:
    _open(qtbot, window, volumes_dir / "CT_pitch.nii.gz")
    _open(qtbot, window, volumes_dir / "MR_Gd.nii.gz")
    _open(qtbot, window, volumes_dir / "CT_pitch.nii.gz")
    assert [scan.title for scan in window.session.scans] == ["CT_pitch", "MR_Gd"]
    assert window.browser.scans_item.childCount() == 2
    assert window.session.current.title == "CT_pitch", "opening it again shows it"


def test_a_long_load_can_be_cancelled(qtbot, window, dialogs, dicom_writer, volumes_dir: Path, tmp_path: Path) -> None:
    import nibabel as nib

    image = nib.as_closest_canonical(nib.load(str(volumes_dir / "CT_pitch.nii.gz")))
    dicom_writer.write_ct_series(np.asarray(image.dataobj).astype(np.uint8), image.affine, tmp_path / "series")
    job = window.files.open_path(tmp_path / "series", series_uid=None)
    assert window.shown_job is job and window.cancel_job_button.isVisible()
    window.cancel_job_button.click()
    with qtbot.waitSignal(job.cancelled_, timeout=30000):
        pass
    _idle(qtbot, window)
    assert window.session.scans == [] and dialogs.errors == [], "stopped, quietly, nothing opened"
    assert not window.cancel_job_button.isVisible()


def test_the_data_folder_and_the_layout_come_back(qtbot, window, medmnist_root, tmp_path) -> None:
    from spikeview.main_window import MainWindow

    window.session.set_data_root(tmp_path)
    window.inspector_dock.hide()
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.session.data_root == tmp_path
    assert again.inspector_dock.isHidden() and not again.browser_dock.isHidden()
    again.session.set_data_root(medmnist_root)
    again.close()


# ---- views that say why they show nothing --------------------------------------------------------
def _recording(spikes: np.ndarray, attention: np.ndarray | None = None) -> Recording:
    """A recording of one layer (`spikes` [T, n]) and optionally one attention block ([T, heads, 4, 4])."""
    steps, neurons = spikes.shape
    layer = LayerRecord("block0.lif", (neurons,), np.arange(neurons), spikes.astype(np.uint8),
                        np.zeros((steps, neurons), np.float32), np.zeros(1, np.float32))
    recording = Recording(steps, np.random.default_rng(0).random((1, 8, 8), dtype=np.float32),
                          np.zeros((steps, 2), np.float32), np.array([0.5, 0.5], np.float32), ["normal", "malignant"],
                          layers={"block0.lif": layer})
    if attention is not None:
        recording.attention = {"block0.attn": attention}
        recording.attention_grid = {"block0.attn": (2, 2)}
    return recording


def test_a_silent_layer_says_so_at_the_cursor(qtbot, window) -> None:
    spikes = np.zeros((4, 10), np.uint8)
    spikes[0, 3] = spikes[2, 7] = 1  # spikes at t = 1 and t = 3 only
    window.session.set_recording(analyse(_recording(spikes)), "synthetic")
    raster = window.dynamics.raster
    window.session.set_timestep(1)
    assert raster.note.text == "This layer (block0.lif) fired no spikes at t = 2 (2 spikes at other timesteps)."
    window.session.set_timestep(2)
    assert raster.note.text == ""
    window.session.set_recording(analyse(_recording(np.zeros((4, 10), np.uint8))), "silent")
    assert raster.note.text == "This layer (block0.lif) fired no spikes at any timestep for this input."


def test_the_membrane_tab_says_how_to_pick_a_neuron(qtbot, window) -> None:
    traces = window.dynamics.traces
    assert traces.note.text.startswith("No recording yet")
    spikes = np.zeros((4, 10), np.uint8)
    spikes[:, 6] = 1
    window.session.set_recording(analyse(_recording(spikes)), "synthetic")
    assert traces.selected == [("block0.lif", 6)] and traces.note.text == "", "the most active neuron, at once"
    traces.clear_neurons()
    assert traces.note.text == "Click a neuron in the raster to plot its membrane potential here."


def test_attention_says_where_it_is_non_zero_or_why_not(qtbot, window) -> None:
    attention = np.zeros((3, 2, 4, 4), np.float32)
    attention[0, :, :, 1] = 1.0  # every query attends to token 1 at t = 1; nothing at t = 2, 3
    window.session.set_recording(analyse(_recording(np.ones((3, 10), np.uint8), attention)), "synthetic")
    view = window.dynamics.attention
    window.session.set_timestep(0)
    assert view.extent.text().startswith("Attention of block0.attn at t = 1: non-zero on ")
    assert view.plane_2d.overlay.image[..., 3][view.saliency == 0].max() == 0, "colour only where non-zero"
    window.session.set_timestep(1)
    assert view.extent.text() == ("The attention of block0.attn is zero at t = 2: its Q/K/V neurons fired no "
                                  "spikes then (non-zero at t = 1).")
    window.session.set_recording(analyse(_recording(np.ones((3, 10), np.uint8), np.zeros((3, 2, 4, 4), np.float32))))
    assert "zero at every timestep" in view.extent.text()
    window.session.set_recording(analyse(_recording(np.ones((3, 10), np.uint8))), "no attention")
    assert view.message.text().startswith("No attention recorded") and view.stack.currentWidget() is view.message


def test_3d_attention_planes_have_anatomical_names(qtbot, window) -> None:
    titles = [plot.getPlotItem().titleLabel.text for plot in window.dynamics.attention.planes_3d.values()]
    assert titles == ["axial (middle slice)", "coronal (middle slice)", "sagittal (middle slice)"]


def test_empty_training_plots_say_what_they_wait_for(qtbot, window) -> None:
    plots = window.training_panel.plots
    assert plots.empty_notes[plots.loss_plot].text == "The loss of each batch appears here once a run starts."
    assert plots.loss_plot.getAxis("bottom").autoSIPrefix is False
