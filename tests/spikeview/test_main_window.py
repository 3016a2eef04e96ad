"""The main window end to end under Qt: opening real files, datasets, bad input, labels."""
from __future__ import annotations

import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from spikeview import RESEARCH_NOTICE
from waiting import wait_idle as _idle

pytestmark = pytest.mark.gui



def _open(qtbot, window, *paths) -> None:
    window.open_paths(paths)
    _idle(qtbot, window)


def test_research_notice_and_about(window, dialogs) -> None:
    assert RESEARCH_NOTICE in window.notice_label.text()
    assert "not for diagnosis" in RESEARCH_NOTICE.lower()
    about = next(a for a in window.menuBar().actions() if a.text() == "&Help").menu().actions()[0]
    about.trigger()
    assert "not be used to diagnose" in dialogs.about[0]


def test_open_3d_nifti_shows_ortho_views(qtbot, window, volumes_dir: Path) -> None:
    _open(qtbot, window, volumes_dir / "CT_AVM.nii.gz")
    assert window.scan_view.currentWidget() is window.scan_view.ortho_view
    scan = window.session.current
    assert scan.volume.spatial_shape == (256, 242, 154)
    assert window.scan_view.ortho_view.crosshair == (128, 121, 77)
    assert "Dimensions=256 x 242 x 154" in window.inspector.texts()
    assert window.windowTitle().endswith("CT_AVM")
    assert window.session.recent_files()[0] == (volumes_dir / "CT_AVM.nii.gz").resolve()
    assert window.recent_menu.actions()[0].text() == str((volumes_dir / "CT_AVM.nii.gz").resolve())


def test_window_presets_and_cursor_readout(qtbot, window, volumes_dir: Path) -> None:
    _open(qtbot, window, volumes_dir / "MR_Gd.nii.gz")
    box = window.toolbar.preset_box
    names = [box.itemText(i) for i in range(box.count())]
    assert "Lung" not in names and names[0].startswith("Auto"), "MR gets automatic presets only"
    axial = window.scan_view.ortho_view.views["axial"]
    box.setCurrentText("Full range")
    box.activated.emit(box.currentIndex())
    assert axial.levels == pytest.approx(window.session.current.volume.intensity_range())
    axial.cursor_moved.emit((80, 90, 70))
    text = window.cursor_label.text()
    value = window.session.current.volume.array[80, 90, 70]
    assert text.startswith("voxel (80, 90, 70) = ") and f"{value:.5g}" in text and "mm" in text


def test_open_2d_picture_and_switch_scans(qtbot, window, volumes_dir: Path, tmp_path: Path) -> None:
    picture = (np.linspace(0, 255, 64 * 80) % 256).astype(np.uint8).reshape(64, 80)
    Image.fromarray(picture).save(tmp_path / "xray.png")
    _open(qtbot, window, volumes_dir / "CT_pitch.nii.gz", tmp_path / "xray.png")
    assert len(window.session.scans) == 2
    window.session.set_current(next(s for s in window.session.scans if s.volume.is_2d))
    assert window.scan_view.currentWidget() is window.scan_view.image_view
    assert window.scan_view.image_view.image_item.image.shape == (64, 80)
    window.session.set_current(next(s for s in window.session.scans if not s.volume.is_2d))
    assert window.scan_view.currentWidget() is window.scan_view.ortho_view


def test_label_beside_image_is_offered_and_overlaid(qtbot, window, dialogs, volumes_dir: Path) -> None:
    _open(qtbot, window, volumes_dir / "brain1_image.nrrd")
    _idle(qtbot, window)
    assert "brain1_label.nrrd" in dialogs.questions[0]
    scan = window.session.current
    assert scan.label is not None and scan.label.label_names == {1: "label 1"}
    axial = window.scan_view.ortho_view.views["axial"]
    assert axial.label_item.image is not None
    window.toolbar.opacity_slider.setValue(75)
    assert scan.label_opacity == pytest.approx(0.75) and axial.label_item.opacity() == pytest.approx(0.75)


def test_declined_label_and_menu_label(qtbot, window, dialogs, volumes_dir: Path) -> None:
    dialogs.answer = dialogs.answer.No
    _open(qtbot, window, volumes_dir / "brain1_image.nrrd")
    assert window.session.current.label is None
    window.files.open_label(volumes_dir / "CT_AVM.nii.gz")  # a scan, not a mask (labels on other grids are resampled)
    _idle(qtbot, window)
    assert "not a label map" in dialogs.errors[0]
    window.files.open_label(volumes_dir / "brain1_label.nrrd")
    _idle(qtbot, window)
    assert window.session.current.label is not None


def test_dicom_folder_asks_for_a_series(qtbot, window, monkeypatch, two_series_dir: Path) -> None:
    import spikeview.main_window as main_window

    offered = []

    def pick_second(series, folder_name, parent):
        offered.extend((s.description, s.count) for s in series)
        return series[1].uid

    monkeypatch.setattr(main_window, "choose_series", pick_second)
    _open(qtbot, window, two_series_dir)
    assert offered == [("long", 20), ("short", 12)]
    volume = window.session.current.volume
    assert volume.spatial_shape[2] == 12 and volume.modality == "CT"
    assert volume.intensity_range()[0] == -1024, "HU after rescale"
    texts = window.inspector.texts()
    assert "PatientName=(hidden)" in texts and not any("Doe" in t for t in texts)
    window.inspector.show_identifiers.setChecked(True)
    assert "PatientName=Doe^Jane" in window.inspector.texts()


def test_bad_inputs_give_one_dialog_and_keep_the_app(qtbot, window, dialogs, volumes_dir: Path, tmp_path: Path) -> None:
    _open(qtbot, window, volumes_dir / "CT_pitch.nii.gz")
    (tmp_path / "empty.nii").write_bytes(b"")
    (tmp_path / "report.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / "no_dicom").mkdir()
    (tmp_path / "no_dicom" / "a.txt").write_text("x")
    (tmp_path / "cut.nii.gz").write_bytes((volumes_dir / "MR_Gd.nii.gz").read_bytes()[:20000])
    nib.save(nib.Nifti1Image(np.zeros((6, 6, 6, 4), np.float32), np.eye(4)), tmp_path / "fmri.nii.gz")
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    expected = {
        "empty.nii": "is empty", "report.docx": "not a supported file type", "no_dicom": "no DICOM images",
        "cut.nii.gz": "truncated", "fmri.nii.gz": "4D volume", "junk.jpg": "could not be read",
    }
    for name, words in expected.items():
        before = len(dialogs.errors)
        _open(qtbot, window, tmp_path / name)
        assert len(dialogs.errors) == before + 1, name
        assert words in dialogs.errors[-1] and "Traceback" not in dialogs.errors[-1]
    assert [s.title for s in window.session.scans] == ["CT_pitch"], "the open scan stays"
    assert window.scan_view.currentWidget() is window.scan_view.ortho_view


def test_nans_are_replaced_with_a_warning(qtbot, window, dialogs, tmp_path: Path) -> None:
    array = np.random.default_rng(0).normal(size=(8, 8, 8)).astype(np.float32)
    array[2, 2, 2] = np.nan
    nib.save(nib.Nifti1Image(array, np.eye(4)), tmp_path / "nan.nii.gz")
    _open(qtbot, window, tmp_path / "nan.nii.gz")
    assert "1 voxels were not numbers" in dialogs.warnings[0]
    assert np.isfinite(window.session.current.volume.array).all()


def test_drop_files_on_the_window(qtbot, window, volumes_dir: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(volumes_dir / "CT_pitch.nii.gz"))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    _idle(qtbot, window)
    assert window.session.current.title == "CT_pitch"


def test_command_line_paths(qtbot, monkeypatch, medmnist_root: Path, volumes_dir: Path, dialogs) -> None:
    from spikeview import app as app_module
    from spikeview.main_window import MainWindow

    opened = []

    def fake_exec(*_args):
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible())
        qtbot.addWidget(window)
        _idle(qtbot, window)
        opened.extend(s.title for s in window.session.scans)
        window.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert app_module.main([str(volumes_dir / "CT_pitch.nii.gz"), "--data-root", str(medmnist_root)]) == 0
    assert opened == ["CT_pitch"]


def test_console_script_is_declared() -> None:
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert 'spikeview = "spikeview.app:main"' in text
    assert sys.modules.get("vtkmodules.qt") is None or "PySide6" in sys.modules


def test_identifiers_are_shown_per_scan_and_never_in_the_title(qtbot, window, dicom_writer, volumes_dir: Path,
                                                               tmp_path: Path) -> None:
    image = nib.as_closest_canonical(nib.load(str(volumes_dir / "CT_pitch.nii.gz")))
    array = np.asarray(image.dataobj).astype(np.uint8)[:, :, 20:28]
    values = dicom_writer.identifying_values()
    dicom_writer.write_ct_series(array, image.affine, tmp_path / "scan", extra=values)
    dicom_writer.write_ct_series(array, image.affine, tmp_path / "copy", extra=values)
    markers = {v for v in values.values() if len(v) >= 6}
    _open(qtbot, window, tmp_path / "scan")
    first = window.session.current
    assert not [m for m in markers if m in window.windowTitle()]
    assert not [m for m in markers if m in " ".join(window.inspector.texts())], "hidden until asked"
    window.inspector.show_identifiers.setChecked(True)
    assert f"PatientName={values['PatientName']}" in window.inspector.texts()
    _open(qtbot, window, tmp_path / "scan")  # the same series opened again: the same scan, as it was
    assert window.session.current is first and len(window.session.scans) == 1
    _open(qtbot, window, tmp_path / "copy")  # another scan: hidden
    assert not window.inspector.show_identifiers.isChecked()
    assert not [m for m in markers if m in " ".join(window.inspector.texts())]
    window.session.set_current(first)  # back to the scan whose identifiers were asked for
    assert window.inspector.show_identifiers.isChecked() and f"StudyDate={values['StudyDate']}" in window.inspector.texts()


def test_a_mask_on_another_grid_is_overlaid(qtbot, window, dialogs, dicom_writer, volumes_dir: Path, tmp_path: Path) -> None:
    """The report's case: a 512 x 512 mask on the same scan exported as a 256 x 256 DICOM series."""
    from engine.io import load

    scan, label = load(volumes_dir / "brain1_image.nrrd"), load(volumes_dir / "brain1_label.nrrd")
    dicom_writer.write_series(scan.array.astype(np.int16), scan.affine, tmp_path / "brain", modality="MR")
    mask = nib.Nifti1Image(dicom_writer.upsampled(label.array, 2).astype(np.uint8), dicom_writer.finer_grid(label.affine, 2))
    nib.save(mask, tmp_path / "lesion_512.nii.gz")
    _open(qtbot, window, tmp_path / "brain")
    window.files.open_label(tmp_path / "lesion_512.nii.gz")
    _idle(qtbot, window)
    assert dialogs.errors == []
    overlay = window.session.current.label
    assert overlay.spatial_shape == (256, 256, 25) and np.array_equal(overlay.array, label.array)
    assert any(t.startswith("Resampled=from 512 x 512 x 25 (0.391 x 0.391 x 6.5 mm)") for t in window.inspector.texts())
