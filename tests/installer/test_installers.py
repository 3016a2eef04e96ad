"""The Linux installers as a workstation gets them: the archive unpacked into an empty folder, the
.deb installed with apt and removed again. Each runs its self-test, the engine CLI on a real scan,
and the GUI under X with a real scan (window up, not blank, no error in the log)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "installer"))
from x11 import grab_screen, looks_blank, wait_for_window, window_ids, window_pid  # noqa: E402

pytestmark = [pytest.mark.installer, pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only Linux installers are built here")]

SAMPLE_RUN = Path("_internal") / "spikeview" / "resource_files" / "sample" / "sample_run"
PHANTOM_LABELS = {"no lesion", "hypodense lesion", "hyperdense lesion"}


def _run(command: list, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, env=env, timeout=timeout)


def _last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def _assert_self_test_passes(spikeview: Path | str, env: dict, version: str) -> dict:
    done = _run([spikeview, "--self-test"], env)
    report = _last_json(done.stdout)
    failed = {c["name"]: c["error"] for c in report["checks"] if not c["ok"]}
    assert done.returncode == 0 and report["ok"], f"self-test failed: {failed}\n{done.stderr[-2000:]}"
    assert report["version"] == version and "commit" in report["build"]
    assert "spikeview/resource_files" in report["checks"][0]["detail"]["folder"]  # the installed copy
    return report


def _assert_engine_classifies(engine: Path | str, run_dir: Path, scan: Path, medmnist_root: Path) -> None:
    done = _run([engine, "infer", "--run", run_dir, scan])
    assert done.returncode == 0, done.stderr[-2000:]
    assert _last_json(done.stdout)["label_name"] in PHANTOM_LABELS
    listed = _run([engine, "datasets", "--data-root", medmnist_root])
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "breastmnist" in listed.stdout


def _log_problems(env: dict) -> list[str]:
    log = Path(env["XDG_STATE_HOME"]) / "spikeview" / "spikeview.log"
    assert log.is_file(), f"no log file at {log}"
    return [line for line in log.read_text().splitlines() if any(w in line for w in (" ERROR ", " CRITICAL ", "Traceback"))]


def _assert_gui_shows_scan(command: list, scan: Path, env: dict, screenshot: Path) -> None:
    """Start the app on a scan (or hand the scan to the desktop with `gio open`, as a double-click does),
    wait for its window titled with the scan, check the screen shows it and the log has no error."""
    if not env.get("DISPLAY"):
        pytest.fail("the GUI check needs an X display (make test starts Xvfb)")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    output = screenshot.with_suffix(".out")  # the app's own output, kept to name a failure
    with output.open("wb") as sink:
        launcher = subprocess.Popen([str(c) for c in command] + [str(scan)], env=env, stdout=sink,
                                    stderr=subprocess.STDOUT)
    app_is_child = command[0] != "gio"
    name = scan.name.split(".")[0]
    try:
        try:
            wait_for_window(launcher if app_is_child else None, timeout_s=180, containing=name)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; its output ends:\n{output.read_text(errors='replace')[-2000:]}") from exc
        image = _settled_screen()
        from PIL import Image

        Image.fromarray(image).save(screenshot)
        assert not looks_blank(image), f"the window looks blank (see {screenshot})"
    finally:
        for window in window_ids(containing=name):
            os.kill(window_pid(window), signal.SIGTERM)
        launcher.wait(timeout=30)
    assert not _log_problems(env), "\n".join(_log_problems(env))


def _settled_screen(timeout_s: float = 30.0) -> np.ndarray:
    """The screen once two grabs a second apart agree (the slices and the rendering have drawn)."""
    previous = grab_screen()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(1.0)
        current = grab_screen()
        if np.array_equal(current, previous) and not looks_blank(current):
            return current
        previous = current
    return previous


# -- the relocatable archive --------------------------------------------------------------------
def test_archive_self_test(unpacked_archive, installers, user_env):
    report = _assert_self_test_passes(unpacked_archive / "spikeview", user_env, installers.version)
    assert report["build"].endswith("CPU build")


def test_archive_engine_on_real_scan(unpacked_archive, volumes_dir, medmnist_root):
    engine = unpacked_archive / "spikeview-engine"
    _assert_engine_classifies(engine, unpacked_archive / SAMPLE_RUN, volumes_dir / "CT_pitch.nii.gz", medmnist_root)
    wrong = _run([engine, "infer", "--run", unpacked_archive / "no-such-run", volumes_dir / "CT_pitch.nii.gz"])
    assert wrong.returncode == 2 and wrong.stderr.startswith("error:") and len(wrong.stderr.strip().splitlines()) == 1


def test_archive_engine_worker_processes(unpacked_archive, medmnist_root, tmp_path):
    """`--workers 2` starts worker processes of the frozen engine (multiprocessing spawn, freeze_support)
    and a SQLite Optuna study (its migrations are files the bundle must carry)."""
    done = _run([unpacked_archive / "spikeview-engine", "snndeep", "tune", "--task", "organamnist",
                 "--medmnist-root", medmnist_root, "--study-dir", tmp_path / "study", "--workers", "2",
                 "--impl", "custom", "--rule", "bptt", "--trials", "2", "--epochs", "1",
                 "--max-train", "200", "--max-test", "100"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "study" / "optuna.db").is_file()


def test_archive_gui_shows_a_real_scan(unpacked_archive, volumes_dir, user_env, tmp_path):
    _assert_gui_shows_scan([unpacked_archive / "spikeview"], volumes_dir / "brain1_image.nrrd", user_env,
                           tmp_path / "archive_gui.png")


def test_archive_ships_licences(unpacked_archive):
    notices = (unpacked_archive / "licenses" / "THIRD-PARTY-NOTICES.md").read_text()
    for component in ("torch", "spikingjelly", "PySide6_Essentials", "vtk", "pydicom", "nibabel", "Python"):
        assert f"| {component} |" in notices
    assert (unpacked_archive / "licenses" / "PySide6_Essentials").is_dir()


# -- the Debian package -----------------------------------------------------------------------
def _apt(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return _run(["apt-get", "-y", "-q", *args], env, timeout=900)


INSTALLED_FILES = [Path("/opt/spikeview/spikeview"), Path("/usr/share/applications/spikeview.desktop"),
                   Path("/usr/share/mime/packages/spikeview.xml"),
                   Path("/usr/share/icons/hicolor/scalable/apps/spikeview.svg"),
                   Path("/usr/share/icons/hicolor/48x48/apps/spikeview.png")]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("apt-get"), reason="installing a .deb needs root and apt")
def test_deb_install_use_and_uninstall(installers, volumes_dir, medmnist_root, user_env, tmp_path):
    installed = _apt("install", "--no-install-recommends", str(installers.deb))
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    try:
        assert Path(shutil.which("spikeview")).resolve() == Path("/opt/spikeview/spikeview")
        assert Path(shutil.which("spikeview-engine")).resolve() == Path("/opt/spikeview/spikeview-engine")
        assert all(path.exists() for path in INSTALLED_FILES)
        _assert_desktop_integration()
        _assert_self_test_passes("spikeview", user_env, installers.version)
        _assert_engine_classifies("spikeview-engine", Path("/opt/spikeview") / SAMPLE_RUN,
                                  volumes_dir / "CT_pitch.nii.gz", medmnist_root)
        assert _desktop_exec() == ["spikeview"]
        # A double-click on a scan: the desktop finds SpikeView through the MIME registration.
        _assert_gui_shows_scan(["gio", "open"], volumes_dir / "CT_pitch.nii.gz", user_env, tmp_path / "deb_gui.png")
    finally:
        removed = _apt("purge", "spikeview")
    assert removed.returncode == 0, removed.stderr[-3000:]
    assert not Path("/opt/spikeview").exists()
    assert shutil.which("spikeview") is None and shutil.which("spikeview-engine") is None
    assert not any(path.exists() for path in INSTALLED_FILES)


def _assert_desktop_integration() -> None:
    entry = "/usr/share/applications/spikeview.desktop"
    validated = _run(["desktop-file-validate", entry])
    assert validated.returncode == 0 and "error" not in validated.stdout.lower(), validated.stdout
    cache = Path("/usr/share/applications/mimeinfo.cache").read_text()
    for mime in ("application/dicom", "application/x-nifti", "application/x-nifti-gz", "application/x-nrrd"):
        assert any(line.startswith(f"{mime}=") and "spikeview.desktop" in line for line in cache.splitlines()), mime
    assert Path("/usr/share/mime/application/x-nifti-gz.xml").is_file()  # the MIME database knows the types


def _desktop_exec() -> list[str]:
    """The menu entry's command (Exec=spikeview %F) with the file placeholder dropped."""
    lines = Path("/usr/share/applications/spikeview.desktop").read_text().splitlines()
    command = next(line.split("=", 1)[1] for line in lines if line.startswith("Exec="))
    return [word for word in command.split() if not word.startswith("%")]
