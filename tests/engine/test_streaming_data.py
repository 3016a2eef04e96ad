"""Training data in bounded memory: splits prepared once into a uint8 file and read a batch at a time give
the same pixels as the whole split in memory; batch shares draw the whole batch's random numbers.
(Peak memory is measured by benchmarks/bench_data_memory.py, not here.)"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data.catalog import channels_first, get_spec, load_split
from engine.data.encoders import encode
from engine.data.medmnist import medmnist_image_chunks
from engine.data.pipeline import Preprocessing, load_split_tensors, prepared_path
from engine.data.npy_files import write_npy_rows
from engine.data.rows import ArrayRows, FileRows
from engine.data.transforms import AugmentConfig, BatchPart, augment, enhance


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEVIEW_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _expected(spec, split, enhancement, root) -> np.ndarray:
    images, _labels = load_split(spec, split, root)
    return channels_first(enhance(images, enhancement, spec.spatial_dims), spec)


@pytest.mark.parametrize("flag,enhancement", [("breastmnist", "none"), ("breastmnist", "equalize"),
                                              ("adrenalmnist3d", "percentile")])
def test_prepared_rows_are_the_enhanced_split(flag, enhancement, medmnist_root, cache):
    spec = get_spec(flag)
    prep = Preprocessing.for_dataset(spec, enhancement)
    data = load_split_tensors(spec, "val", prep, medmnist_root)
    assert isinstance(data.images, FileRows) and prepared_path(spec, "val", prep).is_file()
    expected = _expected(spec, "val", enhancement, medmnist_root)
    assert data.images.shape == expected.shape
    np.testing.assert_array_equal(data.images[:].numpy(), expected)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:20]
    np.testing.assert_array_equal(data.images[order].numpy(), expected[order.numpy()])
    np.testing.assert_array_equal(data.window(5, 15).images[2:4].numpy(), expected[7:9])


def test_the_prepared_file_is_reused_and_a_damaged_one_rebuilt(medmnist_root, cache):
    spec = get_spec("breastmnist")
    prep = Preprocessing.for_dataset(spec)
    load_split_tensors(spec, "test", prep, medmnist_root)
    path = prepared_path(spec, "test", prep)
    written = path.stat().st_mtime_ns
    load_split_tensors(spec, "test", prep, medmnist_root)
    assert path.stat().st_mtime_ns == written, "prepared once"
    path.write_bytes(path.read_bytes()[:1000])  # e.g. a disk that filled up under another program
    data = load_split_tensors(spec, "test", prep, medmnist_root)
    np.testing.assert_array_equal(data.images[:].numpy(), _expected(spec, "test", "none", medmnist_root))


def test_without_a_writable_cache_the_split_stays_in_memory(medmnist_root, tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setenv("SPIKEVIEW_CACHE", str(tmp_path / "a_file"))
    spec = get_spec("breastmnist")
    data = load_split_tensors(spec, "val", Preprocessing.for_dataset(spec), medmnist_root)
    assert isinstance(data.images, ArrayRows)
    np.testing.assert_array_equal(data.images[:].numpy(), _expected(spec, "val", "none", medmnist_root))


def test_a_split_streams_in_small_chunks(medmnist_root):
    spec = get_spec("adrenalmnist3d", 64)
    shape, chunks = medmnist_image_chunks(spec, "val", medmnist_root, chunk_bytes=1 << 20)
    parts = list(chunks)
    assert len(parts) > 10 and max(len(p) for p in parts) == 4  # 4 volumes of 64^3 bytes per MiB
    images, _ = load_split(spec, "val", medmnist_root)
    assert shape == images.shape
    np.testing.assert_array_equal(np.concatenate(parts), images)


def test_rows_index_like_a_tensor(tmp_path):
    array = np.arange(7 * 2 * 3, dtype=np.uint8).reshape(7, 2, 3)
    write_npy_rows(tmp_path / "rows.npy", array.shape, [array[:3], array[3:]])
    np.testing.assert_array_equal(np.load(tmp_path / "rows.npy"), array)
    for rows in (FileRows(tmp_path / "rows.npy"), ArrayRows(array)):
        for index in (slice(None), slice(2, 5), slice(-3, None), [6, 0, 3, 3, 1], torch.tensor([5, 4]), [-1]):
            expected = array[index.numpy() if torch.is_tensor(index) else index]
            np.testing.assert_array_equal(rows[index].numpy(), expected)
        assert len(rows.window(2, 6)) == 4
        np.testing.assert_array_equal(rows.window(2, 6)[[3, 0]].numpy(), array[[5, 2]])
        with pytest.raises(IndexError):
            rows[[7]]


@pytest.mark.parametrize("dims", [2, 3])
def test_shares_of_a_batch_are_augmented_as_the_whole_batch(dims):
    batch = torch.rand(5, 1, *(12,) * dims)
    whole = augment(batch, AugmentConfig(), torch.Generator().manual_seed(1))
    parts = [augment(batch[a:b], AugmentConfig(), torch.Generator().manual_seed(1), BatchPart(a, b, 5))
             for a, b in ((0, 2), (2, 5))]
    torch.testing.assert_close(torch.cat(parts), whole)
    spikes = encode(batch, 3, "poisson", torch.Generator().manual_seed(2))
    shares = [encode(batch[a:b], 3, "poisson", torch.Generator().manual_seed(2), BatchPart(a, b, 5))
              for a, b in ((0, 3), (3, 5))]
    torch.testing.assert_close(torch.cat(shares, dim=1), spikes)


def test_augmentation_strength_scales_every_range():
    half = AugmentConfig().scaled(0.5)
    assert half.rotate_degrees == 7.5 and half.scale == pytest.approx((0.925, 1.075))
    assert half.translate == 0.04 and half.brightness == 0.05 and half.contrast == 0.075
    assert AugmentConfig().scaled(1.0) == AugmentConfig()
