"""Geometry you can trust: gaps, duplicates, mixed orientations, gantry tilt and shear, built from a
real head CT (CT_pitch) written as DICOM series / NIfTI / NRRD, each opened as is (with its warning)
and resampled onto an even, straight grid."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import nrrd
import numpy as np
import pytest
from scipy import ndimage

from dicom_writer import LPS, hu_from_uint8, write_ct_series
from engine.errors import UserError
from engine.io import RESAMPLE, load
from engine.io.geometry import SliceStack, stack_issues

N_SLICES = 48  # the first 48 slices of CT_pitch, as in the report: a 48-slice CT series
TILT = 15.0


@pytest.fixture(scope="module")
def ct48(ct_pitch) -> tuple[np.ndarray, np.ndarray]:
    array, affine = ct_pitch
    return array[:, :, :N_SLICES], affine


def _angle_to_normal(affine: np.ndarray) -> float:
    normal = np.cross(affine[:3, 0], affine[:3, 1])
    cosine = abs(affine[:3, 2] @ normal) / (np.linalg.norm(affine[:3, 2]) * np.linalg.norm(normal))
    return float(np.degrees(np.arccos(min(cosine, 1.0))))


def _one_sentence(text: str) -> bool:
    return text.endswith(".") and text.count(". ") == 0 and "\n" not in text


# ---- missing slices ---------------------------------------------------------------------------
DROPPED = [3, 7, 8, 15, 22, 23, 24, 30, 38, 41]  # ten slices at uneven positions


@pytest.fixture(scope="module")
def gap_series(ct48, tmp_path_factory) -> Path:
    array, affine = ct48
    folder = tmp_path_factory.mktemp("gaps")
    write_ct_series(array, affine, folder, slices=[k for k in range(N_SLICES) if k not in DROPPED])
    return folder


def test_missing_slices_open_as_is_with_a_warning(ct48, gap_series: Path) -> None:
    array, affine = ct48
    volume = load(gap_series)
    kept = [k for k in range(N_SLICES) if k not in DROPPED]
    assert volume.array.shape[2] == len(kept)
    assert np.array_equal(volume.array, hu_from_uint8(array[:, :, kept])), "as stored: the slices that are there"
    [issue] = volume.geometry_issues
    assert issue.kind == "missing" and issue.step_mm == pytest.approx(np.linalg.norm(affine[:3, 2]), abs=1e-3)
    [warning] = volume.warnings
    assert warning.startswith("10 slices are missing from this series (7 gaps, the widest 9.59 mm where slices are 2.4 mm apart)") and "reopen it with resampling" in warning
    assert _one_sentence(warning)
    assert volume.metadata["Geometry"] == "as stored"


def test_missing_slices_resampled_to_even_spacing(ct48, gap_series: Path) -> None:
    array, affine = ct48
    volume = load(gap_series, geometry=RESAMPLE)
    truth = hu_from_uint8(array)
    assert volume.array.shape == array.shape, "every one of the 48 slice positions is back"
    assert np.allclose(volume.affine, affine, atol=1e-3) and volume.spacing[2] == pytest.approx(np.linalg.norm(affine[:3, 2]), abs=1e-3)
    kept = [k for k in range(N_SLICES) if k not in DROPPED]
    assert np.array_equal(volume.array[:, :, kept], truth[:, :, kept]), "slices that were there are unchanged"
    for k in (3, 15, 30, 38, 41):  # one-slice gaps: interpolation beats copying a neighbour
        interpolated = np.abs(volume.array[:, :, k].astype(float) - truth[:, :, k]).mean()
        neighbour = np.abs(truth[:, :, k - 1].astype(float) - truth[:, :, k]).mean()
        assert interpolated < neighbour, (k, interpolated, neighbour)
    assert "interpolated from their neighbours" in volume.warnings[0]
    assert volume.metadata["Geometry"] == "resampled to an even, straight grid"


def test_ten_slices_left_of_48_are_not_a_10_slice_volume(ct48, tmp_path: Path) -> None:
    """No two neighbours survive, so the gaps are counted with the series' SliceThickness."""
    array, affine = ct48
    kept = [0, 4, 6, 13, 20, 26, 31, 39, 44, 47]
    write_ct_series(array, affine, tmp_path, slices=kept)
    as_is = load(tmp_path)
    assert as_is.array.shape[2] == 10 and "38 slices are missing" in as_is.warnings[0]
    resampled = load(tmp_path, geometry=RESAMPLE)
    assert resampled.array.shape[2] == N_SLICES
    assert resampled.spacing[2] == pytest.approx(np.linalg.norm(affine[:3, 2]), abs=1e-3)
    assert np.array_equal(resampled.array[:, :, kept], hu_from_uint8(array[:, :, kept]))


def test_uneven_spacing_that_is_not_gaps() -> None:
    stack = SliceStack(np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([[0, 0, z] for z in (0, 2, 4.5, 6.5, 9)], float))
    [issue] = stack_issues(stack)
    assert issue.kind == "uneven" and "unevenly spaced (2 to 2.5 mm apart)" in issue.describe("as_is")
    assert issue.step_mm == pytest.approx(2.25)


# ---- duplicates and mixed orientations --------------------------------------------------------
def test_duplicated_slices_are_left_out(ct48, tmp_path: Path) -> None:
    array, affine = ct48
    uid = write_ct_series(array, affine, tmp_path, slices=[*range(N_SLICES), 10, 30])  # two identical copies
    other = array.copy()
    other[:, :, 20] = array[:, :, 5]
    write_ct_series(other, affine, tmp_path, slices=[20], series_uid=uid, extra={"InstanceNumber": 100})
    volume = load(tmp_path)
    assert np.array_equal(volume.array, hu_from_uint8(array)), "one slice per position, the first instance kept"
    [issue] = volume.geometry_issues
    assert issue.kind == "duplicate" and not issue.resampling_fixes
    assert volume.warnings[0].startswith("3 images of this series repeat a slice position (2 identical copies, 1 with other pixels)")
    assert "several acquisitions" in volume.warnings[0] and _one_sentence(volume.warnings[0])
    assert load(tmp_path, geometry=RESAMPLE).array.shape == array.shape, "nothing to resample"


def test_a_localizer_in_the_series_is_left_out(ct48, tmp_path: Path) -> None:
    array, affine = ct48
    uid = write_ct_series(array, affine, tmp_path)
    sagittal, sagittal_affine = array.transpose(1, 2, 0), affine[:, [1, 2, 0, 3]]
    write_ct_series(np.ascontiguousarray(sagittal), sagittal_affine, tmp_path, slices=[80], series_uid=uid)
    volume = load(tmp_path)
    assert np.array_equal(volume.array, hu_from_uint8(array))
    assert volume.warnings == [f"1 of the {N_SLICES + 1} images of this series have another orientation "
                               "(for example a localizer) and were left out."]


# ---- gantry tilt and shear ----------------------------------------------------------------------
def _tilted_acquisition(array: np.ndarray, affine: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """The real CT sampled as a scanner with a tilted gantry sees it: each slice plane is tilted by
    `degrees` about the left-right axis while the table moves straight. Returns (uint8 voxels, affine)."""
    shift = np.tan(np.radians(degrees)) * np.linalg.norm(affine[:3, 2]) / np.linalg.norm(affine[:3, 1])  # j per k
    centre = array.shape[2] / 2
    shear = np.eye(4)
    shear[1, 2], shear[1, 3] = shift, -shift * centre
    i, j, k = np.meshgrid(*map(np.arange, array.shape), indexing="ij")
    sampled = ndimage.map_coordinates(array.astype(np.float32), [i, j + shift * (k - centre), k], order=1, cval=0)
    return np.rint(sampled).astype(np.uint8), affine @ shear


def _error_against(volume, truth: np.ndarray, truth_affine: np.ndarray) -> float:
    """Mean |difference| between a volume and the original CT (same units) at the same places in space."""
    ii, jj, kk = np.meshgrid(*map(np.arange, volume.array.shape), indexing="ij")
    points = np.stack([ii.ravel(), jj.ravel(), kk.ravel(), np.ones(ii.size)])
    index = (np.linalg.inv(truth_affine) @ volume.affine @ points)[:3]
    floor = truth.min()
    truth = ndimage.map_coordinates(truth.astype(np.float32), index, order=1, cval=np.nan)
    inside = np.isfinite(truth) & (truth > floor)  # compare where the original has signal
    return float(np.abs(volume.array.ravel()[inside] - truth[inside]).mean())


@pytest.fixture(scope="module")
def tilted(ct48):
    return _tilted_acquisition(*ct48, TILT)


@pytest.fixture(scope="module")
def tilted_series(tilted, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tilt")
    write_ct_series(*tilted, folder)
    return folder


def test_gantry_tilt_as_is_keeps_the_sheared_grid(tilted, tilted_series: Path) -> None:
    array, sheared = tilted
    volume = load(tilted_series)
    assert np.array_equal(volume.array, hu_from_uint8(array))
    assert np.allclose(volume.affine, sheared, atol=1e-3), "voxels placed where the scanner put them"
    [issue] = volume.geometry_issues
    assert issue.kind == "tilt"
    assert volume.warnings[0].startswith(f"The slices were acquired with a gantry tilt of {TILT:.1f}°")
    assert "reopen it with resampling to a straight grid" in volume.warnings[0]


def test_gantry_tilt_resampled_matches_the_original_ct(ct48, tilted_series: Path) -> None:
    original, affine = ct48
    as_is = load(tilted_series)
    straight = load(tilted_series, geometry=RESAMPLE)
    assert _angle_to_normal(straight.affine) < 0.01 and _angle_to_normal(as_is.affine) == pytest.approx(TILT, abs=0.05)
    assert straight.spacing == pytest.approx(tuple(np.linalg.norm(affine[:3, :3], axis=0)), abs=1e-3)
    assert straight.array.shape[1] > original.shape[1], "the straight grid covers the tilted slices"
    # read as if it were straight (what a viewer ignoring the tilt shows) vs resampled: the resampled
    # volume is the original CT again, up to two linear interpolations
    ignoring_tilt = as_is.array.astype(float)
    naive_error = np.abs(ignoring_tilt - hu_from_uint8(original))[original > 0].mean()
    resampled_error = _error_against(straight, hu_from_uint8(original), affine)
    assert resampled_error < 0.3 * naive_error, (resampled_error, naive_error)
    assert "resampled onto a straight grid with 2.4 mm between slices" in straight.warnings[0]


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd"])
def test_sheared_nifti_and_nrrd(ct48, tilted, tmp_path: Path, suffix: str) -> None:
    original, affine = ct48
    array, sheared = tilted
    path = tmp_path / f"tilted{suffix}"
    if suffix == ".nii.gz":
        nib.save(nib.Nifti1Image(array, sheared), path)
    else:
        lps = LPS @ sheared
        nrrd.write(str(path), array, {"space": "left-posterior-superior", "space directions": lps[:3, :3].T,
                                      "space origin": lps[:3, 3]}, index_order="F")
    as_is = load(path)
    assert [issue.kind for issue in as_is.geometry_issues] == ["shear"]
    assert as_is.warnings[0].startswith(f"The voxel grid of this file is sheared by {TILT:.1f}°")
    straight = load(path, geometry=RESAMPLE)
    assert _angle_to_normal(straight.affine) < 0.01
    naive_error = np.abs(as_is.array.astype(float) - original)[original > 0].mean()
    assert _error_against(straight, original, affine) < 0.3 * naive_error


def test_straight_scans_have_no_issues(volumes_dir: Path, ct_series_dir: Path) -> None:
    for path in (volumes_dir / "CT_AVM.nii.gz", volumes_dir / "MR_Gd.nii.gz", volumes_dir / "brain1_image.nrrd", ct_series_dir):
        volume = load(path, geometry=RESAMPLE)
        assert volume.geometry_issues == [] and volume.warnings == [] and "Geometry" not in volume.metadata, path.name


def test_an_unknown_geometry_choice_is_one_sentence(volumes_dir: Path) -> None:
    with pytest.raises(UserError, match="must be one of as_is, resample"):
        load(volumes_dir / "CT_AVM.nii.gz", geometry="straighten")
