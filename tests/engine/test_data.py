"""Datasets: specs for every MedMNIST flag and size, checksums, phantoms, transforms, encoders."""
from __future__ import annotations

import shutil

import medmnist
import numpy as np
import pytest
import torch

from engine.data import medmnist as medmnist_files
from engine.data.catalog import channels_first, get_spec, list_datasets, load_split
from engine.data.encoders import encode
from engine.data.pipeline import Preprocessing, prepare_array
from engine.data.transforms import AugmentConfig, augment, enhance
from engine.errors import UserError

TWO_D = [f for f in medmnist.INFO if not f.endswith("3d")]
THREE_D = [f for f in medmnist.INFO if f.endswith("3d")]


def test_every_flag_and_size_has_a_spec():
    assert len(TWO_D) == 12 and len(THREE_D) == 6
    for flag in TWO_D:
        for size in (28, 64, 128, 224):
            spec = get_spec(flag, size)
            assert spec.spatial_dims == 2 and spec.md5 == medmnist.INFO[flag]["MD5" if size == 28 else f"MD5_{size}"]
    for flag in THREE_D:
        for size in (28, 64):
            assert get_spec(flag, size).spatial_dims == 3
    assert get_spec("chestmnist").multi_label and get_spec("chestmnist").num_classes == 14
    assert get_spec("retinamnist").task == "ordinal-regression"
    assert get_spec("adrenalmnist3d", 64).filename == "adrenalmnist3d_64.npz"
    assert {"phantom2d", "phantom3d"} <= set(list_datasets())


def test_wrong_flag_or_size_is_one_sentence():
    with pytest.raises(UserError, match="Unknown MedMNIST dataset"):
        get_spec("livermnist")
    with pytest.raises(UserError, match="sizes 28, 64"):
        get_spec("vesselmnist3d", 128)


def test_real_files_load_with_official_counts(medmnist_root):
    for flag, size in [("breastmnist", 28), ("adrenalmnist3d", 64)]:
        spec = get_spec(flag, size)
        for split in ("train", "val", "test"):
            images, labels = load_split(spec, split, medmnist_root)
            assert len(images) == len(labels) == spec.n_samples[split]
            assert images.dtype == np.uint8 and labels.shape[1] == 1
        assert channels_first(images, spec).shape[1:] == spec.input_shape


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(medmnist_files, "_VERIFIED_CACHE", tmp_path / "verified.json")
    monkeypatch.setattr(medmnist_files, "_try_download", lambda spec, root: None)  # no network in tests


def test_wrong_md5_is_refused_with_file_and_checksum(medmnist_root, tmp_path, private_cache):
    copy = tmp_path / "breastmnist.npz"
    shutil.copy(medmnist_root / "breastmnist.npz", copy)
    with open(copy, "r+b") as handle:  # flip one byte inside the archive
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    spec = get_spec("breastmnist")
    with pytest.raises(UserError) as error:
        load_split(spec, "train", tmp_path)
    assert "breastmnist.npz" in str(error.value) and spec.md5 in str(error.value)


def test_truncated_npz_is_refused(medmnist_root, tmp_path, private_cache):
    data = (medmnist_root / "breastmnist.npz").read_bytes()
    (tmp_path / "breastmnist.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="damaged or not the official file"):
        load_split(get_spec("breastmnist"), "val", tmp_path)


def test_missing_file_says_where_to_put_it(tmp_path, private_cache):
    with pytest.raises(UserError) as error:
        load_split(get_spec("pathmnist"), "train", tmp_path)
    assert "pathmnist.npz" in str(error.value) and str(tmp_path) in str(error.value)


def test_verified_file_is_remembered(medmnist_root, private_cache, monkeypatch):
    spec = get_spec("breastmnist")
    medmnist_files.locate_file(spec, medmnist_root)
    monkeypatch.setattr(medmnist_files, "file_md5", lambda path: pytest.fail("md5 computed twice"))
    medmnist_files.locate_file(spec, medmnist_root)


@pytest.mark.parametrize("flag", ["phantom2d", "phantom3d"])
def test_phantom_is_deterministic_and_balanced(flag):
    spec = get_spec(flag)
    a, la = load_split(spec, "val")
    b, lb = load_split(spec, "val")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert a.shape[1:] == (28,) * spec.spatial_dims
    assert set(np.unique(la)) == {0, 1, 2}
    # a hyperdense lesion is brighter than anything in a lesion-free organ
    bright = np.percentile(a.reshape(len(a), -1), 99.9, axis=1)
    assert bright[la[:, 0] == 2].mean() > bright[la[:, 0] == 0].mean() + 20


@pytest.mark.parametrize("dims", [2, 3])
def test_augmentation_is_reproducible_from_a_seed(dims):
    batch = torch.rand(4, 1, *(16,) * dims)
    first = augment(batch, AugmentConfig(), torch.Generator().manual_seed(3))
    second = augment(batch, AugmentConfig(), torch.Generator().manual_seed(3))
    other = augment(batch, AugmentConfig(), torch.Generator().manual_seed(4))
    torch.testing.assert_close(first, second)
    assert not torch.allclose(first, other)
    assert first.shape == batch.shape and first.min() >= 0 and first.max() <= 1
    assert augment(batch, AugmentConfig.off(), torch.Generator()) is batch


def test_enhancements_keep_shape_and_stretch_contrast():
    rng = np.random.default_rng(0)
    images = rng.integers(100, 140, (3, 28, 28), dtype=np.uint8)
    for method in ("equalize", "clahe", "percentile"):
        out = enhance(images, method, 2)
        assert out.shape == images.shape and out.dtype == np.uint8
        assert out.max() - out.min() > images.max() - images.min()
    with pytest.raises(UserError):
        enhance(images, "sharpen", 2)


def test_encoders():
    batch = torch.tensor([[[0.0, 0.5, 1.0]]])  # [B=1, C=1, 3]
    direct = encode(batch, 4, "direct")
    assert direct.shape == (4, 1, 1, 3) and torch.equal(direct[2], batch)
    latency = encode(batch, 5, "latency")
    assert latency.sum(0).flatten().tolist() == [0.0, 1.0, 1.0]  # one spike each, none for zero
    assert latency[0, 0, 0, 2] == 1 and latency[2, 0, 0, 1] == 1  # brighter fires earlier
    poisson = encode(torch.full((1, 1, 2000), 0.3), 4, "poisson", torch.Generator().manual_seed(0))
    assert set(poisson.unique().tolist()) <= {0.0, 1.0} and abs(poisson.mean().item() - 0.3) < 0.02
    with pytest.raises(UserError):
        encode(batch, 4, "morse")


def test_prepare_array_matches_training_preprocessing():
    prep = Preprocessing(spatial_dims=2, input_size=28, n_channels=1)
    image = (np.arange(28 * 28) % 256).astype(np.uint8).reshape(28, 28)
    tensor = prepare_array(image, prep)
    np.testing.assert_allclose(tensor[0].numpy(), image / 255.0, atol=1e-6)
    volume = np.random.default_rng(0).normal(size=(40, 50, 30)).astype(np.float32)
    prep3d = Preprocessing(spatial_dims=3, input_size=28, n_channels=1)
    assert prepare_array(volume, prep3d).shape == (1, 28, 28, 28)
    with pytest.raises(UserError, match="expects a 2D image"):  # which slice is engine.probe.model_input's choice
        prepare_array(volume, prep)
    with pytest.raises(UserError, match="NaN"):
        prepare_array(np.full((10, 10), np.nan, dtype=np.float32), prep)


def test_no_flips_where_labels_name_a_side():
    from engine.data.transforms import augmentation_for

    assert not augmentation_for(get_spec("organamnist").labels).flip  # kidney-left / kidney-right
    assert augmentation_for(get_spec("breastmnist").labels).flip
    assert augmentation_for(get_spec("breastmnist").labels, enabled=False) == AugmentConfig.off()


def test_prepare_array_handles_colour_layouts_and_channel_counts():
    colour = Preprocessing(spatial_dims=2, input_size=28, n_channels=3)
    rgb_last = np.random.default_rng(1).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    from_last = prepare_array(rgb_last, colour)
    from_first = prepare_array(np.moveaxis(rgb_last, -1, 0), colour)
    assert from_last.shape == (3, 28, 28) and torch.equal(from_last, from_first)
    grey_to_colour = prepare_array(rgb_last[..., 0], colour)
    assert torch.equal(grey_to_colour[0], grey_to_colour[2])
    equalized = prepare_array(rgb_last, Preprocessing(2, 28, 3, enhance="equalize"))
    assert equalized.shape == (3, 28, 28) and equalized.max() == 1.0
