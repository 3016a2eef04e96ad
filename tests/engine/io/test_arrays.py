""".npy files are accepted wherever an image is: engine.io.load and `spikeview-engine infer`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.io import AXIAL, load


@pytest.fixture(scope="module")
def breast_images(medmnist_root: Path) -> np.ndarray:
    with np.load(medmnist_root / "breastmnist.npz") as archive:
        return archive["test_images"][:4]


def test_a_2d_image_and_its_batch_of_one(breast_images: np.ndarray, tmp_path: Path) -> None:
    np.save(tmp_path / "one.npy", breast_images[0])
    np.save(tmp_path / "batch.npy", breast_images[None, None, 1].astype(np.float32) / 255)  # N=1, C=1, H, W
    one, batch = load(tmp_path / "one.npy"), load(tmp_path / "batch.npy")
    assert one.is_2d and np.array_equal(one.array, breast_images[0]) and one.metadata["Axes read as"] == "rows x columns"
    assert batch.is_2d and batch.spatial_shape == (28, 28) and batch.metadata["Stored shape"] == "1 x 1 x 28 x 28"


def test_a_colour_image(tmp_path: Path) -> None:
    rgba = np.random.default_rng(0).integers(0, 255, (32, 40, 4), dtype=np.uint8)
    np.save(tmp_path / "photo.npy", rgba)
    volume = load(tmp_path / "photo.npy")
    assert volume.is_rgb and np.array_equal(volume.array, rgba[..., :3])


def test_a_volume_is_slices_rows_columns(medmnist_root: Path, tmp_path: Path) -> None:
    with np.load(medmnist_root / "adrenalmnist3d_64.npz") as archive:
        stored = archive["test_images"][0]
    np.save(tmp_path / "adrenal.npy", stored)
    volume = load(tmp_path / "adrenal.npy")
    assert volume.spatial_shape == (64, 64, 64) and volume.spacing == (1.0, 1.0, 1.0)
    assert np.array_equal(volume.display_slice(AXIAL, 20), stored[20]), "the axial view shows stored slice 20 as stored"


def test_infer_reads_npy(breast_images: np.ndarray, trained_run: Path, tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "sample.npy", breast_images[2])
    assert main(["infer", "--run", str(trained_run), str(tmp_path / "sample.npy")]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(result["probabilities"]) == 3 and abs(sum(result["probabilities"]) - 1) < 1e-4
