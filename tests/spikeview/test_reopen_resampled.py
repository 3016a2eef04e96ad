"""A DICOM series with slices missing (ten of 48 slices of the real head CT, at uneven positions) opens as
stored with its warning, and the app offers to reopen it resampled onto an even grid, through the files
controller, with its lesion overlay carried over; declined, File ▸ Reopen Resampled does it later."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from waiting import wait_idle as _idle

pytestmark = pytest.mark.gui

N_SLICES = 48
DROPPED = [3, 7, 8, 15, 22, 23, 24, 30, 38, 41]


@pytest.fixture(scope="module")
def gap_series(volumes_dir, dicom_writer, tmp_path_factory) -> Path:
    image = nib.as_closest_canonical(nib.load(str(volumes_dir / "CT_pitch.nii.gz")))
    array = np.asarray(image.dataobj).astype(np.uint8)[:, :, :N_SLICES]
    folder = tmp_path_factory.mktemp("gaps") / "series"
    dicom_writer.write_ct_series(array, image.affine, folder,
                                 slices=[k for k in range(N_SLICES) if k not in DROPPED])
    return folder



def test_a_series_with_gaps_is_reopened_resampled_when_the_user_says_so(qtbot, window, dialogs, gap_series) -> None:
    window.open_paths([gap_series])
    _idle(qtbot, window)
    [question] = dialogs.questions
    assert question.startswith("10 slices are missing from this series") and "Reopen series resampled" in question
    scan = window.session.current
    assert len(window.session.scans) == 1 and scan.volume.spatial_shape[2] == N_SLICES
    assert scan.volume.metadata["Geometry"] == "resampled to an even, straight grid", "answered Yes: resampled"
    assert not window.resample_action.isEnabled() and dialogs.errors == [] and dialogs.warnings == []


def test_declined_it_stays_as_stored_and_the_menu_resamples_it_later(qtbot, window, dialogs, gap_series) -> None:
    from PySide6.QtWidgets import QMessageBox

    from engine.io import load

    dialogs.answer = QMessageBox.StandardButton.No
    window.open_paths([gap_series])
    _idle(qtbot, window)
    stored = window.session.current
    assert stored.volume.spatial_shape[2] == N_SLICES - len(DROPPED) and window.resample_action.isEnabled()
    mask = load(gap_series)
    mask.array = (mask.array > np.percentile(mask.array, 99)).astype(np.uint8)  # the brightest voxels as a label
    window.session.set_label(stored, _as_label(mask, stored.volume))
    window.resample_action.trigger()
    _idle(qtbot, window)
    resampled = window.session.current
    assert window.session.scans == [resampled] and resampled is not stored
    assert resampled.volume.spatial_shape[2] == N_SLICES, "every slice position is back"
    assert resampled.label is not None and resampled.label.spatial_shape == resampled.volume.spatial_shape
    assert resampled.label.array.any() and not window.resample_action.isEnabled()
    assert dialogs.errors == []


def _as_label(volume, reference):
    from engine.io import as_label

    return as_label(volume, reference)
