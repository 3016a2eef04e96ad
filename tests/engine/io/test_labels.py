"""Label volumes on another grid land on the scan through both affines (nearest neighbour), built
from the real brain1_image / brain1_label pair: the scan exported as a 256 x 256 DICOM series and the
lesion mask on a 512 x 512 grid (the case from the report), the reverse, a rotated grid, a partial
overlap, and the refusals."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from dicom_writer import finer_grid, upsampled, write_series
from engine.errors import UserError
from engine.io import Volume, load, load_label, resample_label


@pytest.fixture(scope="module")
def brain(volumes_dir: Path) -> tuple[Volume, Volume]:
    image, label = load(volumes_dir / "brain1_image.nrrd"), load(volumes_dir / "brain1_label.nrrd")
    assert np.allclose(image.affine, label.affine) and label.array.sum() > 1000
    return image, label


@pytest.fixture(scope="module")
def scan_256_dicom(brain, tmp_path_factory) -> Path:
    image, _ = brain
    folder = tmp_path_factory.mktemp("brain_dicom")
    write_series(image.array.astype(np.int16), image.affine, folder, description="MR brain", modality="MR")
    return folder


def test_a_512_mask_lands_on_the_256_dicom_series(brain, scan_256_dicom: Path, tmp_path: Path) -> None:
    image, label = brain
    nib.save(nib.Nifti1Image(upsampled(label.array, 2).astype(np.uint8), finer_grid(label.affine, 2)), tmp_path / "mask_512.nii.gz")
    scan = load(scan_256_dicom)
    assert scan.spatial_shape == (256, 256, 25) and np.allclose(scan.affine, image.affine, atol=1e-4)
    overlay = load_label(tmp_path / "mask_512.nii.gz", scan)
    assert overlay.spatial_shape == scan.spatial_shape and np.array_equal(overlay.array, label.array)
    assert overlay.array.dtype == np.int32 and overlay.label_names == {1: "label 1"}
    assert overlay.metadata["Resampled"]== ("from 512 x 512 x 25 (0.391 x 0.391 x 6.5 mm) to the scan's "
                                           "256 x 256 x 25 (0.781 x 0.781 x 6.5 mm), nearest neighbour")
    assert overlay.warnings == []


def test_a_256_mask_lands_on_a_512_scan(brain, tmp_path: Path, volumes_dir: Path) -> None:
    image, label = brain
    nib.save(nib.Nifti1Image(upsampled(image.array, 2), finer_grid(image.affine, 2)), tmp_path / "scan_512.nii.gz")
    scan = load(tmp_path / "scan_512.nii.gz")
    overlay = load_label(volumes_dir / "brain1_label.nrrd", scan)
    assert np.array_equal(overlay.array, upsampled(label.array, 2))


def test_a_mask_on_a_rotated_grid(brain, tmp_path: Path) -> None:
    """The mask resampled onto a grid turned 10 degrees about the superior axis, then back."""
    image, label = brain
    turn = np.radians(10)
    rotation = np.eye(4)
    rotation[:2, :2] = [[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]
    centre = image.affine @ np.array([127.5, 127.5, 12, 1])
    to_centre, back = np.eye(4), np.eye(4)
    to_centre[:3, 3], back[:3, 3] = -centre[:3], centre[:3]
    rotated_affine = back @ rotation @ to_centre @ image.affine
    mapping = np.linalg.inv(image.affine) @ rotated_affine  # rotated voxel -> original voxel
    rotated = ndimage.affine_transform(label.array, mapping[:3, :3], mapping[:3, 3], order=0)
    nib.save(nib.Nifti1Image(rotated.astype(np.uint8), rotated_affine), tmp_path / "mask_rotated.nii.gz")
    overlay = load_label(tmp_path / "mask_rotated.nii.gz", image)
    dice = 2 * np.sum((overlay.array > 0) & (label.array > 0)) / (np.sum(overlay.array > 0) + np.sum(label.array > 0))
    assert dice > 0.9, dice  # two nearest-neighbour resamplings of a small lesion


def test_partial_overlap_shows_what_lands_and_says_what_does_not(brain) -> None:
    image, label = brain
    top_cut = Volume(array=image.array[:, :, :15], spacing=image.spacing, affine=image.affine.copy(), name="cut")
    elsewhere = Volume(array=upsampled(label.array, 2), spacing=(0.39, 0.39, 6.5), affine=finer_grid(label.affine, 2), name="mask")
    labelled = int(np.count_nonzero(elsewhere.array))
    overlay = resample_label(elsewhere, top_cut)
    assert np.array_equal(overlay.array, label.array[:, :, :15])
    outside = int(np.count_nonzero(label.array[:, :, 15:])) * 4
    assert overlay.warnings == [f"{outside} of the label's {labelled} labelled voxels "
                                "lie outside the scan and are not shown."]


def test_no_overlap_in_space_is_refused_in_one_sentence(brain) -> None:
    image, label = brain
    far = finer_grid(label.affine, 2)
    far[:3, 3] += [0, 0, 1000]
    mask = Volume(array=upsampled(label.array, 2), spacing=(0.39, 0.39, 6.5), affine=far, name="mask_far")
    with pytest.raises(UserError) as caught:
        resample_label(mask, image)
    assert str(caught.value) == ("The label mask_far does not overlap the scan in space (their centres are 1000 mm "
                                 "apart), so it cannot be overlaid.")


def test_a_same_sized_mask_without_its_position_is_overlaid_voxel_for_voxel(brain) -> None:
    image, label = brain
    far = np.eye(4)
    far[:3, 3] = 5000
    mask = Volume(array=label.array.copy(), spacing=(1.0, 1.0, 1.0), affine=far, name="m")
    overlay = resample_label(mask, image)
    assert np.array_equal(overlay.array, label.array) and "voxel for voxel" in overlay.warnings[0]


def test_2d_pictures_must_match_in_size() -> None:
    picture = Volume(array=np.zeros((40, 40), np.uint8), spacing=(1.0, 1.0), name="photo")
    mask = Volume(array=np.zeros((28, 28), np.int32), spacing=(1.0, 1.0), name="mask")
    with pytest.raises(UserError, match="carries no position in space, so they cannot be overlaid"):
        resample_label(mask, picture)
