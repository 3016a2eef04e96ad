"""The GUI thread never reads a file and never calls torch while the main flows run: opening scans,
DICOM folders and label overlays, browsing datasets, training with probes, choosing a run, inference
on a dataset sample and on the open scan, scrubbing the dynamics, saving and opening a recording,
exporting metrics, reading the SNNDeep report. Reads and torch calls on worker threads are fine.

The watchdog sees every file opened and every folder listed from Python (audit events) and every
torch function called (a thread-local `TorchFunctionMode`), on the main thread, while armed.
Files of the Python installation (modules, library data) do not count: reading those is importing.
"""
from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from torch.overrides import TorchFunctionMode

from engine.options import TrainConfig
from spikeview.controllers.inference import SOURCE_DATASET, SOURCE_SCAN
from waiting import wait_idle as _idle

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[2]
WATCHED_EVENTS = ("open", "os.listdir", "os.scandir", "glob.glob")
INSTALLATION = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})


class GuiThreadWatchdog(TorchFunctionMode):
    """While armed: the files read and the torch functions called on the main thread."""

    _installed: "GuiThreadWatchdog | None" = None

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.reads: list[str] = []
        self.torch_calls: list[str] = []

    @classmethod
    def get(cls) -> "GuiThreadWatchdog":
        """One per process: an audit hook cannot be removed, so it is installed once and armed as needed."""
        if cls._installed is None:
            cls._installed = cls()
            sys.addaudithook(cls._installed._on_audit)
        return cls._installed

    def _on_audit(self, event: str, args: tuple) -> None:
        if not (self.armed and event in WATCHED_EVENTS and threading.current_thread() is threading.main_thread()):
            return
        path = args[0] if args else None
        if isinstance(path, bytes):
            path = path.decode(errors="replace")
        if isinstance(path, (str, Path)) and not str(path).startswith(INSTALLATION):
            self.reads.append(f"{event} {path}")

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.torch_calls.append(getattr(func, "__qualname__", None) or str(func))
        return func(*args, **(kwargs or {}))

    @contextmanager
    def watching(self):
        self.reads.clear()
        self.torch_calls.clear()
        self.armed = True
        with self:  # the mode is thread-local: only the main thread's torch calls reach it
            try:
                yield self
            finally:
                self.armed = False


def test_the_watchdog_sees_reads_and_torch_calls_on_the_gui_thread_only(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("x")
    watchdog = GuiThreadWatchdog.get()

    def on_a_worker() -> None:
        (tmp_path / "data.txt").read_text()
        torch.ones(2) * 2

    with watchdog.watching():
        worker = threading.Thread(target=on_a_worker)
        worker.start()
        worker.join()
        assert watchdog.reads == [] and watchdog.torch_calls == []
        (tmp_path / "data.txt").read_text()
        torch.zeros(2) + 1
    assert watchdog.reads == [f"open {tmp_path / 'data.txt'}"]
    assert "zeros" in watchdog.torch_calls[0]



def _main_flows(qtbot, window, dialogs, monkeypatch, volumes_dir: Path, two_series_dir: Path, tmp_path: Path) -> None:
    import spikeview.main_window as main_window

    session, browser = window.session, window.browser
    # scans: a 3D NIfTI, an NRRD with its label beside it, a DICOM folder of two series
    monkeypatch.setattr(main_window, "choose_series", lambda series, _folder, _parent: series[0].uid)
    window.open_paths([volumes_dir / "CT_AVM.nii.gz", volumes_dir / "brain1_image.nrrd"])
    _idle(qtbot, window)
    window.open_paths([two_series_dir])
    _idle(qtbot, window)
    assert len(session.scans) == 3 and any(scan.label is not None for scan in session.scans)
    # datasets: a 3D sample, then a 2D one (a sample replaces the previous sample)
    vessel = next(f for f in browser.files if f.spec.flag == "vesselmnist3d")
    browser.open_dataset(vessel, "val")
    qtbot.waitUntil(lambda: browser.model.spec is not None and browser.model.spec.flag == "vesselmnist3d", timeout=30000)
    browser._on_thumbnail_clicked(browser.model.index(1))
    breast = next(f for f in browser.files if f.spec.flag == "breastmnist")
    browser.open_dataset(breast, "test")
    qtbot.waitUntil(lambda: browser.model.spec is not None and browser.model.spec.flag == "breastmnist", timeout=30000)
    browser._on_thumbnail_clicked(browser.model.index(2))
    assert session.current.volume.is_2d and len(session.scans) == 4
    # training with probes; the finished run is listed, chosen and shown
    session.set_runs_folder(tmp_path / "runs")
    config = TrainConfig(dataset="breastmnist", data_root=str(window.session.data_root), epochs=1, batch_size=16,
                         train_limit=32, timesteps=2, probe_every=1, model_overrides={"dims": [8, 16, 32], "heads": 2})
    with qtbot.waitSignal(window.training_panel.controller.run_opened, timeout=120000):
        window.training_panel.start(config)
    _idle(qtbot, window)
    run = session.run
    assert run is not None and window.runs_list.selected_run() == run and window.training_panel.run_path == run
    # inference on a dataset sample and on the open scan; the dynamics follow the timestep
    for source in (SOURCE_DATASET, SOURCE_SCAN):
        with qtbot.waitSignal(window.inference.finished, timeout=60000):
            window.inference_panel.start(source)
        if window.inference.outcome.withheld:  # a network this briefly trained may fire no spikes yet
            window.inference_panel.reveal_button.click()
    assert session.recording_source == f"Inference with {run.name}: scan {session.current.title}"
    dynamics = window.dynamics
    dynamics.tabs.setCurrentWidget(dynamics.attention)
    for timestep in range(session.recording.recording.timesteps):
        dynamics.scrubber.set_timestep(timestep)
        dynamics.attention.opacity_slider.setValue(20 + 10 * timestep)
    dynamics.attention.head_box.setCurrentIndex(1)
    assert dynamics.attention.saliency is not None
    # recordings, metrics and the study report, written and read in the background
    window.files.save_recording(tmp_path / "rec.npz")
    _idle(qtbot, window)
    window.files.open_recording(tmp_path / "rec.npz")
    _idle(qtbot, window)
    assert session.recording_source == "Recording rec.npz"
    window.training.export_csv(run, tmp_path / "metrics.csv")
    with qtbot.waitSignal(window.snndeep_panel.report_shown, timeout=30000):
        window.snndeep_panel.show_report(REPO / "docs" / "snndeep" / "README.md")
    window.files.close_current_scan()
    _idle(qtbot, window)
    assert (tmp_path / "metrics.csv").is_file() and dialogs.errors == []


def test_main_flows_keep_files_and_torch_off_the_gui_thread(qtbot, window, dialogs, monkeypatch, volumes_dir: Path,
                                                            two_series_dir: Path, tmp_path: Path) -> None:
    _idle(qtbot, window)
    qtbot.waitUntil(lambda: bool(window.browser.files), timeout=30000)
    with GuiThreadWatchdog.get().watching() as watchdog:
        _main_flows(qtbot, window, dialogs, monkeypatch, volumes_dir, two_series_dir, tmp_path)
    assert watchdog.reads == [], "files read on the GUI thread"
    assert watchdog.torch_calls == [], "torch called on the GUI thread"
