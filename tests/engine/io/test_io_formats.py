"""engine.io on the real volumes and MedMNIST files, plus DICOM written from a real CT."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import nrrd
import numpy as np
import pytest
from PIL import Image

from dicom_writer import hu_from_uint8, write_ct_series, write_multiframe
from engine.data.medmnist import list_dataset_files, parse_medmnist_filename
from engine.errors import UserError
from engine.io import (
    AXIAL, CORONAL, SAGITTAL, Volume, find_label_for, list_series, load, load_label, load_medmnist_sample,
)


@pytest.mark.parametrize("name, modality", [
    ("CT_pitch.nii.gz", "CT"), ("CT_AVM.nii.gz", "CT"), ("MR_Gd.nii.gz", "MR"), ("brain1_image.nrrd", "OT"),
])
def test_real_volumes_load_in_ras(volumes_dir: Path, name: str, modality: str) -> None:
    volume = load(volumes_dir / name)
    assert volume.array.ndim == 3 and volume.spatial_ndim == 3
    assert volume.modality == modality
    assert np.all(np.diag(volume.affine)[:3] > 0), "axes must run L->R, P->A, I->S"
    assert np.allclose(volume.spacing, np.linalg.norm(volume.affine[:3, :3], axis=0))
    low, high = volume.intensity_range()
    assert high > low
    assert volume.axis_labels == (("L", "R"), ("P", "A"), ("I", "S"))


def test_nrrd_lps_matches_world_coordinates(volumes_dir: Path) -> None:
    data, header = nrrd.read(str(volumes_dir / "brain1_image.nrrd"), index_order="F")
    volume = load(volumes_dir / "brain1_image.nrrd")
    assert volume.array.shape == data.shape
    assert np.allclose(volume.spacing, (0.78125, 0.78125, 6.5), atol=1e-4)
    # the same voxel value sits at the same physical point: LPS(stored) == RAS(loaded) with x, y negated
    directions = np.asarray(header["space directions"], dtype=float)
    stored_index = np.array([10, 20, 5])
    lps = header["space origin"] + stored_index @ directions
    ras = np.array([-lps[0], -lps[1], lps[2], 1.0])
    loaded_index = np.rint(np.linalg.solve(volume.affine, ras)[:3]).astype(int)
    assert volume.array[tuple(loaded_index)] == data[tuple(stored_index)]


def test_nifti_in_lps_storage_is_reoriented(tmp_path: Path) -> None:
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    affine = np.diag([-2.0, -3.0, 4.0, 1.0])  # stored L<-R, A<-P: i runs R->L, j A->P
    nib.save(nib.Nifti1Image(array, affine), tmp_path / "lps.nii.gz")
    volume = load(tmp_path / "lps.nii.gz")
    assert np.array_equal(volume.array, array[::-1, ::-1, :])
    assert volume.spacing == pytest.approx((2.0, 3.0, 4.0))
    assert volume.world_position((0, 0, 0)) == pytest.approx(tuple((affine @ [3, 4, 0, 1])[:3]))


def test_display_slices_are_radiological() -> None:
    array = np.zeros((4, 5, 6), dtype=np.int16)
    array[3, 4, 5] = 7  # the right-, anterior-, superior-most voxel
    volume = Volume(array=array, spacing=(1.0, 1.0, 1.0))
    axial = volume.display_slice(AXIAL, 5)
    assert axial.shape == (5, 4) and axial[0, 0] == 7  # R on the screen's left, A at the top
    assert volume.slice_edge_labels(AXIAL) == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert volume.display_slice(CORONAL, 4)[0, 0] == 7
    assert volume.slice_edge_labels(SAGITTAL) == {"left": "A", "right": "P", "top": "S", "bottom": "I"}
    assert volume.display_slice(SAGITTAL, 3)[0, 0] == 7
    assert volume.screen_to_voxel(AXIAL, 5, 0, 0) == (3, 4, 5)
    assert volume.voxel_to_screen(SAGITTAL, (3, 4, 5)) == (3, 0, 0)
    assert volume.display_slice(AXIAL, 5).flags["C_CONTIGUOUS"]


def test_dicom_series_round_trip(ct_pitch, ct_series_dir: Path) -> None:
    array, affine = ct_pitch
    series = list_series(ct_series_dir)
    assert [(s.modality, s.count, s.description) for s in series] == [("CT", array.shape[2], "CT head")]
    fractions: list[float] = []
    volume = load(ct_series_dir, progress=fractions.append)
    assert volume.modality == "CT"
    assert np.array_equal(volume.array, hu_from_uint8(array)), "HU after RescaleSlope/Intercept, slices in order"
    assert np.allclose(volume.affine, affine, atol=1e-3), "orientation and position survive"
    assert np.allclose(volume.spacing, np.linalg.norm(affine[:3, :3], axis=0), atol=1e-4)
    assert fractions and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert volume.identifiers["PatientName"] == "Doe^Jane"
    assert "PatientName" not in volume.metadata and "PatientID" not in volume.metadata
    assert "Doe" not in str(volume.metadata)


def test_single_dicom_file_and_multiframe(ct_pitch, ct_series_dir: Path, tmp_path: Path) -> None:
    array, affine = ct_pitch
    single = load(sorted(ct_series_dir.iterdir())[0])
    assert single.array.shape[:2] == array.shape[:2] and single.array.shape[2] == 1
    write_multiframe(array[:, :, :12], affine, tmp_path / "multi.dcm")
    multi = load(tmp_path / "multi.dcm")
    assert np.array_equal(multi.array, hu_from_uint8(array[:, :, :12]))
    assert np.allclose(multi.affine, affine, atol=1e-3)


def test_folder_with_two_series(ct_pitch, tmp_path: Path) -> None:
    array, affine = ct_pitch
    uid_a = write_ct_series(array[:, :, :10], affine, tmp_path / "a", description="small")
    uid_b = write_ct_series(array[:, :, :20], affine, tmp_path / "b", description="large")
    series = list_series(tmp_path)
    assert [(s.uid, s.count) for s in series] == [(uid_b, 20), (uid_a, 10)]
    with pytest.raises(UserError, match="2 series"):
        load(tmp_path)
    assert load(tmp_path, series_uid=uid_a).array.shape[2] == 10


def test_pictures_stay_2d(tmp_path: Path) -> None:
    grey = (np.arange(30 * 40) % 256).astype(np.uint8).reshape(30, 40)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(np.dstack([grey] * 3)).save(tmp_path / "colour.jpg")
    png, jpg = load(tmp_path / "grey.png"), load(tmp_path / "colour.jpg")
    assert png.is_2d and np.array_equal(png.array, grey) and png.axis_labels == ()
    assert jpg.is_2d and jpg.is_rgb and jpg.array.shape == (30, 40, 3)


def test_medmnist_samples(medmnist_root: Path) -> None:
    assert parse_medmnist_filename("adrenalmnist3d_64.npz") == ("adrenalmnist3d", 64)
    flags = {(f.spec.flag, f.spec.size) for f in list_dataset_files(medmnist_root)}
    assert ("organamnist", 28) in flags and ("adrenalmnist3d", 64) in flags
    image = load_medmnist_sample(medmnist_root / "breastmnist.npz", "val", 3)
    assert image.is_2d and image.array.shape == (28, 28) and image.metadata["Label"] in ("malignant", "normal, benign")
    volume = load_medmnist_sample(medmnist_root / "adrenalmnist3d_64.npz", "test", 0)
    assert volume.spatial_shape == (64, 64, 64)
    with np.load(medmnist_root / "adrenalmnist3d_64.npz") as archive:
        stored = archive["test_images"][0]
    assert np.array_equal(volume.display_slice(AXIAL, 32), stored[32]), "axial view shows the stored slice"
    with pytest.raises(UserError, match="index 999"):
        load_medmnist_sample(medmnist_root / "breastmnist.npz", "val", 999)


def test_label_found_beside_image(volumes_dir: Path) -> None:
    label_path = find_label_for(volumes_dir / "brain1_image.nrrd")
    assert label_path == volumes_dir / "brain1_label.nrrd"
    image = load(volumes_dir / "brain1_image.nrrd")
    label = load_label(label_path, image)
    assert label.is_label and label.label_names == {1: "label 1"} and label.array.sum() > 0


def test_msd_layout_label(tmp_path: Path) -> None:
    (tmp_path / "imagesTr").mkdir()
    (tmp_path / "labelsTr").mkdir()
    for folder in ("imagesTr", "labelsTr"):
        nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4)), tmp_path / folder / "liver_1.nii.gz")
    assert find_label_for(tmp_path / "imagesTr" / "liver_1.nii.gz") == tmp_path / "labelsTr" / "liver_1.nii.gz"


# ---- values that are not numbers (the bad inputs are in tests/engine/bad_inputs.py) --------------

def test_nans_are_replaced_and_reported(tmp_path: Path) -> None:
    array = np.ones((6, 6, 6), np.float32)
    array[0, 0, :3] = np.nan
    array[1, 1, 1] = -5
    nib.save(nib.Nifti1Image(array, np.eye(4)), tmp_path / "nan.nii.gz")
    volume = load(tmp_path / "nan.nii.gz")
    assert np.isfinite(volume.array).all() and volume.array[0, 0, 0] == -5
    assert volume.metadata["Non-finite voxels replaced"] == "3"
    assert "3 voxels were not numbers" in volume.warnings[0]
    nib.save(nib.Nifti1Image(np.full((3, 3, 3), np.nan, np.float32), np.eye(4)), tmp_path / "allnan.nii.gz")
    with pytest.raises(UserError, match="no numbers"):
        load(tmp_path / "allnan.nii.gz")
