"""`spikeview --self-test`: is every part of this SpikeView installation working?

What a workstation's IT runs after installing. Each check is timed; the Qt and VTK checks run in a
child process, so a missing platform plugin or a crashing OpenGL driver is reported as that part
failing instead of killing the test. Progress goes to stderr; stdout ends with one JSON object.
Exit status 0 when every check passed, 1 otherwise (the failing parts are named).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from spikeview import resources

CHILD_TIMEOUT_S = 120
PACKAGES = ("torch", "spikingjelly", "snntorch", "PySide6-Essentials", "pyqtgraph", "vtk", "pydicom",
            "nibabel", "pynrrd", "numpy", "medmnist", "optuna", "safetensors")


@dataclass
class CheckResult:
    name: str
    ok: bool
    seconds: float
    detail: dict = field(default_factory=dict)
    error: str = ""


def _say(line: str) -> None:
    if sys.stderr is not None:
        print(line, file=sys.stderr, flush=True)


def _run_check(name: str, check: Callable[[], dict]) -> CheckResult:
    start = time.perf_counter()
    try:
        detail, error = check(), ""
    except Exception as exc:  # noqa: BLE001 - a self-test reports every failure as data
        detail, error = {}, f"{type(exc).__name__}: {exc}".strip()
    result = CheckResult(name, not error, round(time.perf_counter() - start, 3), detail, error)
    _say(f"[{'ok' if result.ok else 'FAILED'}] {name} ({result.seconds:.1f} s){' ' + error if error else ''}")
    return result


# -- checks run in this process -------------------------------------------------------------------
def check_resources() -> dict:
    wanted = {"style sheet": resources.resource("style.qss"), "window presets": resources.resource("window_presets.json"),
              "icon": resources.icon_path(), "sample scan": resources.sample_scan_path(),
              "sample run": resources.sample_run_path() / "config.json"}
    missing = [name for name, path in wanted.items() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"missing from {resources.resources_dir()}: {', '.join(missing)}")
    return {"folder": str(resources.resources_dir())}


def check_torch() -> dict:
    import torch

    x = torch.randn(64, 64, requires_grad=True)
    (x @ x).sum().backward()
    if x.grad is None or not torch.isfinite(x.grad).all():
        raise RuntimeError("a matrix product's gradient was not finite")
    return {"version": torch.__version__, "threads": torch.get_num_threads(),
            "cuda": torch.cuda.is_available(), "cuda_version": torch.version.cuda}


def check_spikingjelly() -> dict:
    import torch
    from spikingjelly.activation_based import functional, neuron

    lif = neuron.LIFNode(tau=2.0, step_mode="m")
    spikes = lif(torch.full((8, 4, 16), 1.5))  # T x batch x neurons, above threshold
    functional.reset_net(lif)
    if not torch.all((spikes == 0) | (spikes == 1)) or spikes.sum() == 0:
        raise RuntimeError("a multi-step LIF neuron driven above threshold did not spike")
    return {"spikes": int(spikes.sum())}


def check_nibabel() -> dict:
    from engine.io import load

    volume = load(resources.sample_scan_path())
    return {"shape": list(volume.array.shape), "spacing_mm": [float(s) for s in volume.spacing]}


def check_pydicom() -> dict:
    """Write one slice of the sample scan as a DICOM file and read it back through the engine."""
    import numpy as np
    from engine.io import load

    pixels = np.asarray(load(resources.sample_scan_path()).array)[:, :, 32].astype(np.uint16)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "slice.dcm"
        _write_secondary_capture(pixels, path)
        read_back = load(path)
    if read_back.array.size != pixels.size:
        raise RuntimeError(f"read {read_back.array.shape} back, wrote {pixels.shape}")
    return {"shape": list(read_back.array.shape)}


def _write_secondary_capture(pixels, path: Path) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Modality, ds.SamplesPerPixel, ds.PhotometricInterpretation = "OT", 1, "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation = 15, 0
    ds.PixelData = pixels.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)


def check_training_step() -> dict:
    from engine.options import TrainConfig
    from engine.learning.trainer import Trainer

    config = TrainConfig(dataset="phantom2d", epochs=1, batch_size=16, train_limit=16, eval_batch_size=150,
                         device="auto", seed=0)
    with tempfile.TemporaryDirectory() as folder:
        summary = Trainer(config, Path(folder) / "run").run()
    return {"images_per_s": round(summary["train_images_per_s"], 1), "test_acc": round(summary["test_acc"], 3)}


def check_inference() -> dict:
    from engine.probe.inference import infer

    result = infer(resources.sample_run_path(), resources.sample_scan_path(), record=True)
    spikes = sum(int(layer.spikes.sum()) for layer in result.recording.layers.values())
    return {"prediction": result.label_name, "confidence": round(float(result.probabilities.max()), 3),
            "spikes_recorded": spikes}


# -- checks run in a child process ----------------------------------------------------------------
def child_qt() -> dict:
    """The Qt platform plugin loads and a widget paints."""
    from PySide6.QtCore import QLibraryInfo
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication([sys.argv[0]])
    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    available = sorted(p.name for p in plugins.glob("*qxcb*")) + sorted(p.name for p in plugins.glob("*qoffscreen*"))
    label = QLabel("SpikeView self-test")
    label.resize(200, 40)
    image = label.grab().toImage()
    colours = {image.pixel(x, 20) for x in range(0, 200, 4)}
    if len(colours) < 2:
        raise RuntimeError("a label painted as one flat colour")
    if sys.platform.startswith("linux") and not any("xcb" in name for name in available):
        raise RuntimeError(f"the xcb platform plugin (X11 desktops) is missing from {plugins}")
    return {"platform": app.platformName(), "platform_plugins": available}


def child_vtk() -> dict:
    """An offscreen VTK volume rendering of the sample scan is not blank."""
    import vtkmodules.vtkRenderingOpenGL2  # noqa: F401 - registers the OpenGL backend
    import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401
    from vtkmodules.vtkRenderingCore import vtkRenderer, vtkRenderWindow

    from engine.io import load
    from spikeview.views.volume_view import build_pipeline, render_to_array, reset_camera_anterior

    renderer = vtkRenderer()
    window = vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(200, 200)
    window.AddRenderer(renderer)
    build_pipeline(load(resources.sample_scan_path()), renderer, "MR")
    reset_camera_anterior(renderer)
    window.Render()
    lit = float((render_to_array(window).max(axis=2) > 10).mean())
    if lit < 0.01:
        raise RuntimeError(f"the volume rendering is blank ({lit:.1%} of pixels lit)")
    return {"render_window": window.GetClassName(), "lit_fraction": round(lit, 3)}


def _wait_for(signal, timeout_s: float) -> tuple:
    """Run the Qt event loop until `signal` is emitted; its arguments, or TimeoutError."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop, received = QEventLoop(), []
    signal.connect(lambda *args: (received.append(args), loop.quit()))
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    if not received:
        raise TimeoutError(f"no answer within {timeout_s:.0f} s")
    return received[0]


def child_app() -> dict:
    """The app's own flows, as a user drives them: open the sample scan, train a tiny model in the
    background with live spike recordings, run the sample model on the scan into the dynamics views."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from engine.options import TrainConfig
    from spikeview.controllers.inference import SOURCE_SCAN
    from spikeview.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory() as folder:
        app.setApplicationName("SpikeView self-test")  # settings (recent files) never touch the user's
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)
        window = MainWindow(data_root=Path(folder))
        window.session.set_runs_folder(Path(folder) / "runs")
        window.files.open_sample_scan()
        scan = _wait_for(window.session.current_changed, 60)[0]
        window.training.start(TrainConfig(dataset="phantom2d", epochs=1, batch_size=16, train_limit=32, probe_every=1,
                                          device="auto"))
        _run, state, _summary = _wait_for(window.training.run_ended, 180)
        if state != "finished":
            raise RuntimeError(f"the training job ended {state}")
        window.session.set_run(resources.sample_run_path())
        window.inference.start(SOURCE_SCAN)
        outcome = _wait_for(window.inference.finished, 120)[0]
        shown = window.session.recording is not None and window.session.recording.recording is outcome.result.recording
        window.runner.wait(10000)
        window.close()
    if not shown:
        raise RuntimeError("the inference's recording did not reach the dynamics views")
    return {"scan": scan.title, "training": state, "prediction": outcome.result.label_name}


CHILD_CHECKS: dict[str, Callable[[], dict]] = {"qt": child_qt, "vtk": child_vtk, "app": child_app}


def run_child_check(name: str) -> int:
    """Entry point of the child process (`spikeview --self-test-part NAME`): prints one JSON line."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # a server with no screen
    print(json.dumps(CHILD_CHECKS[name]()), flush=True)
    return 0


def _child_command(name: str) -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, "--self-test-part", name]
    return [sys.executable, "-m", "spikeview.app", "--self-test-part", name]


def _in_child(name: str) -> Callable[[], dict]:
    def check() -> dict:
        done = subprocess.run(_child_command(name), capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            raise RuntimeError(f"the {name} check exited with status {done.returncode}: {reason}")
        return json.loads(lines[-1])

    return check


def _versions() -> dict:
    found = {}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def run_self_test() -> dict:
    from spikeview.app_info import app_info

    start = time.perf_counter()
    checks = [("resources", check_resources), ("qt", _in_child("qt")), ("vtk", _in_child("vtk")),
              ("torch", check_torch), ("spikingjelly", check_spikingjelly), ("nibabel", check_nibabel),
              ("pydicom", check_pydicom), ("training step", check_training_step), ("inference", check_inference),
              ("app", _in_child("app"))]
    results = [_run_check(name, check) for name, check in checks]
    failed = [r.name for r in results if not r.ok]
    return {"ok": not failed, "failed": failed, **app_info().to_dict(), "versions": _versions(),
            "checks": [asdict(r) for r in results], "seconds": round(time.perf_counter() - start, 2)}


def main() -> int:
    report = run_self_test()
    if sys.stdout is None:  # a windowed executable on Windows has no console: leave the report beside the log
        from spikeview.logs import log_dir

        log_dir().mkdir(parents=True, exist_ok=True)
        (log_dir() / "self-test.json").write_text(json.dumps(report, indent=2))
        return 0 if report["ok"] else 1
    if report["failed"]:
        print(f"SpikeView self-test failed: {', '.join(report['failed'])}.", file=sys.stderr)
    print(json.dumps(report), flush=True)
    return 0 if report["ok"] else 1
