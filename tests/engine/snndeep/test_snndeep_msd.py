"""The MSD reader, the slice / slab / feature samples, and OrganAMNIST liver-vs-rest."""
from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from engine.errors import UserError
from engine.snndeep.config import SampleConfig
from engine.snndeep.features import FEATURE_NAMES, slice_features
from engine.snndeep.msd import MSDTask
from engine.snndeep.samples import hu_window, msd_samples, organamnist_samples


def test_reader_lists_cases_and_labels(msd_dir):
    task = MSDTask(msd_dir)
    meta = json.loads((msd_dir / "dataset.json").read_text())
    assert len(task.cases) == meta["numTraining"] == 8
    assert task.label_names == {0: "background", 1: "liver", 2: "cancer"}
    assert all(c.image.is_file() and c.label.is_file() for c in task.cases)


def test_load_case_keeps_only_the_liver_slab(msd_dir):
    task = MSDTask(msd_dir)
    case = task.cases[1]
    full_depth = nib.load(case.label).shape[2]
    volume = task.load_case(case, min_liver_voxels=50)
    assert volume is not None and volume.ct.shape == volume.labels.shape
    assert volume.ct.shape[2] <= full_depth
    assert set(np.unique(volume.labels)) <= {0, 1, 2}
    assert (volume.labels > 0).sum(axis=(0, 1)).min() > 0  # every kept slice holds liver
    liver_hu = volume.ct[volume.labels == 1].mean()
    assert 20 < liver_hu < 100  # painted liver sits in the liver window


def test_image_samples_have_lesion_labels_and_patient_ids(msd_dir):
    samples = msd_samples(msd_dir, SampleConfig(mode="image", size=28))
    assert samples.x.shape[1] == 28 * 28 and samples.x.dtype == np.float32
    assert 0.0 <= samples.x.min() and samples.x.max() <= 1.0
    assert set(np.unique(samples.y)) == {0, 1}
    assert len(np.unique(samples.groups)) == 8


def test_slab_and_feature_modes(msd_dir):
    slab = msd_samples(msd_dir, SampleConfig(mode="image", size=16, slab=1))
    assert slab.x.shape[1] == 3 * 16 * 16
    features = msd_samples(msd_dir, SampleConfig(mode="features"))
    assert features.x.shape[1] == len(FEATURE_NAMES) == len(features.feature_names)
    assert np.isfinite(features.x).all()
    # the hypodense tumours lower the liver's mean window value on lesion slices
    mean = features.x[:, FEATURE_NAMES.index("mean")]
    assert mean[features.y == 1].mean() < mean[features.y == 0].mean()


def test_tumour_size_threshold_is_configurable(msd_dir):
    few = msd_samples(msd_dir, SampleConfig(mode="features", min_tumour_voxels=10_000))
    assert few.y.sum() == 0


def test_hu_window_and_features_of_a_uniform_slice():
    window = hu_window(np.array([-1000.0, 60.0, 1000.0]), level=60, width=400)
    assert window.tolist() == [0.0, 0.5, 1.0]
    flat = slice_features(np.full((16, 16), 0.5, np.float32))
    assert flat[FEATURE_NAMES.index("std")] == 0 and np.isfinite(flat).all()


def test_missing_dataset_json_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="dataset.json"):
        MSDTask(tmp_path)


def test_organamnist_liver_vs_rest(medmnist_root):
    samples = organamnist_samples(medmnist_root, SampleConfig(), {"train": 300, "val": 100, "test": 200})
    assert samples.x.shape == (600, 784)
    assert set(samples.official_split) == {"train", "val", "test"}
    assert 0 < samples.y.mean() < 0.5  # liver is one organ of eleven


def test_reader_reorients_lps_volumes_chunk_by_chunk(msd_dir, tmp_path, monkeypatch):
    """A case stored flipped (LPS-like affine, as many MSD files are) reads like its RAS twin."""
    import engine.snndeep.msd as msd

    source = MSDTask(msd_dir).cases[1]
    flipped_root = tmp_path / "flipped"
    for sub in ("imagesTr", "labelsTr"):
        (flipped_root / sub).mkdir(parents=True)
    for path, sub in ((source.image, "imagesTr"), (source.label, "labelsTr")):
        img = nib.load(path)
        flip = np.diag([-1.0, -1.0, -1.0, 1.0])
        shape_shift = np.eye(4)
        shape_shift[:3, 3] = np.array(img.shape[:3]) - 1
        data = np.asanyarray(img.dataobj)[::-1, ::-1, ::-1]
        nib.save(nib.Nifti1Image(data, img.affine @ shape_shift @ flip), flipped_root / sub / path.name)
    msd.write_dataset_json(flipped_root, [source.case_id])
    monkeypatch.setattr(msd, "Z_CHUNK", 3)  # several chunks
    original = MSDTask(msd_dir).load_case(source, 50)
    flipped = MSDTask(flipped_root).load_case(MSDTask(flipped_root).cases[0], 50)
    assert np.array_equal(original.labels, flipped.labels)
    assert np.allclose(original.ct, flipped.ct)
