"""Shared fixtures. Real test data is found in one place: `shared_data`."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _find_shared_data() -> Path | None:
    env = os.environ.get("SPIKEVIEW_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    return next((p for p in candidates if (p / "medmnist").is_dir()), None)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real MedMNIST files and CT/MR volumes (`../shared/data`, or $SPIKEVIEW_SHARED_DATA).

    Missing data fails loudly in CI rather than skipping the tests that need it.
    """
    found = _find_shared_data()
    if found is None:
        pytest.fail("real test data not found: set SPIKEVIEW_SHARED_DATA or put shared/data beside the repo")
    return found


@pytest.fixture(scope="session")
def medmnist_root(shared_data: Path) -> Path:
    return shared_data / "medmnist"


@pytest.fixture(scope="session")
def volumes_dir(shared_data: Path) -> Path:
    return shared_data / "volumes"


@pytest.fixture(scope="session")
def dicom_writer():
    """tests/engine/io/dicom_writer.py: writes real volumes as DICOM series (for engine and app tests)."""
    path = REPO / "tests" / "engine" / "io" / "dicom_writer.py"
    spec = importlib.util.spec_from_file_location("spikeview_tests_dicom_writer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pytest_collection_modifyitems(config, items):
    """`gpu` tests run where CUDA is; elsewhere they are skipped with the reason, never faked."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (marker gpu)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
