"""Fixtures for the SNNDeep tests: a small MSD-format liver task built from the real CT volumes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.snndeep.demo import build_demo_msd
from engine.snndeep.rules import FoldData


@pytest.fixture(scope="session")
def msd_dir(volumes_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 patients (4 per real volume), 64 x 64 x 16 voxels, synthetic liver and hypodense tumours."""
    return build_demo_msd(volumes_dir, tmp_path_factory.mktemp("msd") / "Task03_Liver", patients_per_volume=4, shape=(64, 64, 16))


@pytest.fixture(scope="session")
def toy_data() -> FoldData:
    """A linearly separable task in [0, 1]: class 1 has five brighter inputs."""
    rng = np.random.default_rng(0)

    def part(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, n)
        x = rng.uniform(0.0, 0.5, (n, 20))
        x[y == 1, :5] += 0.5
        return x.astype(np.float32), y.astype(np.int64)

    return FoldData(*part(400), *part(120), *part(200))
