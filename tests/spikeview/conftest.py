"""GUI test setup. The whole session shares one QApplication, so its platform is decided here,
once, before pytest-qt creates it: xcb when a display (Xvfb) is there, else offscreen.
VTK-in-Qt tests (marked `vtk`) are skipped only when there is no display."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

HAS_DISPLAY = bool(os.environ.get("DISPLAY"))
if not HAS_DISPLAY:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
else:
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

from PySide6.QtCore import QSettings  # noqa: E402 - after the platform is chosen
from PySide6.QtWidgets import QMessageBox  # noqa: E402


def pytest_collection_modifyitems(config, items) -> None:
    if HAS_DISPLAY and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        return
    skip = pytest.mark.skip(reason="VTK inside Qt needs a display: run under Xvfb (scripts/test.sh)")
    for item in items:
        if "vtk" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _isolated_settings(tmp_path_factory, qapp):
    """QSettings (recent files) go to a temporary folder, never the user's."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path_factory.mktemp("settings")))
    qapp.setOrganizationName("SpikeViewTests")
    qapp.setApplicationName("SpikeViewTests")
    yield


@pytest.fixture(autouse=True)
def _fresh_settings(_isolated_settings):
    """Every test starts with no remembered layout, data folder, recent files or windows per scan."""
    QSettings().clear()
    yield


class DialogRecorder:
    """Stands in for QMessageBox so tests never block; remembers every message."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.questions: list[str] = []
        self.about: list[str] = []
        self.answer = QMessageBox.StandardButton.Yes


@pytest.fixture
def dialogs(monkeypatch) -> DialogRecorder:
    recorder = DialogRecorder()
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda _p, _t, text, *a, **k: recorder.errors.append(text)))
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda _p, _t, text, *a, **k: recorder.warnings.append(text)))
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda _p, _t, text: recorder.about.append(text)))

    def question(_parent, _title, text, *args, **kwargs):
        recorder.questions.append(text)
        return recorder.answer

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return recorder


@pytest.fixture
def window(qtbot, medmnist_root, dialogs):
    from spikeview.main_window import MainWindow

    main = MainWindow(data_root=medmnist_root)
    qtbot.addWidget(main)
    main.resize(1280, 800)
    main.show()
    yield main
    main.runner.cancel_all()
    main.runner.wait(10000)


@pytest.fixture(scope="session")
def two_series_dir(dicom_writer, volumes_dir, tmp_path_factory) -> Path:
    """A folder with two CT series written from CT_pitch.nii.gz (12 and 20 slices)."""
    import nibabel as nib
    import numpy as np

    image = nib.as_closest_canonical(nib.load(str(volumes_dir / "CT_pitch.nii.gz")))
    array = np.asarray(image.dataobj).astype(np.uint8)
    folder = tmp_path_factory.mktemp("two_series")
    dicom_writer.write_ct_series(array[:, :, 20:32], image.affine, folder / "a", description="short")
    dicom_writer.write_ct_series(array[:, :, 10:30], image.affine, folder / "b", description="long")
    return folder
