"""What every installation carries: resources inside the package, the sample scan and model, the log
file, About's facts, and `spikeview --self-test` (from source here; tests/installer runs it installed)."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.data.phantom import PHANTOM_LABELS, phantom_image
from spikeview import resources
from spikeview.app_info import app_info
from spikeview.logs import log_file, setup_logging

REPO = Path(__file__).resolve().parents[2]


def test_resources_are_found_and_complete():
    assert resources.resources_dir() == REPO / "resources"
    assert "QMainWindow" in resources.style_sheet()
    presets = resources.window_presets()
    assert len(presets["CT"]) >= 4 and presets["auto"]
    for path in (resources.icon_path(), resources.sample_scan_path(), resources.sample_run_path() / "config.json"):
        assert path.is_file(), path


def test_sample_scan_is_the_phantom_the_script_makes():
    from engine.io import load

    volume = load(resources.sample_scan_path())
    assert np.array_equal(np.asarray(volume.array), phantom_image(3, 64, 1, seed=2026))
    assert tuple(volume.spacing) == (2.0, 2.0, 2.0)


def test_sample_model_finds_the_sample_lesion():
    from engine.probe.inference import infer

    result = infer(resources.sample_run_path(), resources.sample_scan_path())
    assert result.label_name == PHANTOM_LABELS[1]
    assert result.in_domain, f"the first model a new user tries must judge its own sample: {result.flags}"


@pytest.mark.slow
def test_wheel_ships_the_resources(tmp_path):
    """A non-editable install gets style sheet, presets, icon and samples inside the package."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(REPO)], check=True, capture_output=True)
    names = zipfile.ZipFile(next(tmp_path.glob("spikeview-*.whl"))).namelist()
    for name in ("style.qss", "window_presets.json", "icons/spikeview.svg", "sample/sample_phantom.nii.gz",
                 "sample/sample_run/best.safetensors"):
        assert f"spikeview/resource_files/{name}" in names


def test_log_file_in_the_state_folder(tmp_path, monkeypatch):
    import logging

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("SPIKEVIEW_LOG_DIR", raising=False)
    root = logging.getLogger()
    handlers, hooks = list(root.handlers), (sys.excepthook, __import__("threading").excepthook)
    try:
        assert setup_logging() == tmp_path / "spikeview" / "spikeview.log" == log_file()
        logging.getLogger("spikeview.test").warning("written to the log file")
        for handler in root.handlers:
            handler.flush()
        assert "written to the log file" in log_file().read_text()
    finally:
        for handler in set(root.handlers) - set(handlers):
            root.removeHandler(handler)
            handler.close()
        sys.excepthook, __import__("threading").excepthook = hooks


def test_about_facts():
    info = app_info()
    assert info.version and info.torch.startswith("2.") and info.build == "run from source"
    assert info.accelerator.startswith(("CPU (", "CUDA "))
    assert info.notice == "For research use only. Not for diagnosis."


@pytest.mark.slow
def test_self_test_from_source(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    done = subprocess.run([sys.executable, "-m", "spikeview.app", "--self-test"], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and report["ok"], report["failed"]
    assert [c["name"] for c in report["checks"]] == ["resources", "qt", "vtk", "torch", "spikingjelly", "nibabel",
                                                     "pydicom", "training step", "inference", "app"]
    assert report["versions"]["torch"].startswith("2.13")


def test_self_test_names_the_failing_part(monkeypatch, capsys):
    from spikeview import selftest

    monkeypatch.setattr(selftest.resources, "sample_scan_path", lambda: Path("/nonexistent/scan.nii.gz"))
    result = selftest._run_check("resources", selftest.check_resources)
    assert not result.ok and "sample scan" in result.error
