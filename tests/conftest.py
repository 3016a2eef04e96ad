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


@pytest.fixture(scope="session")
def breast_run(tmp_path_factory, medmnist_root) -> Path:
    """A small BreastMNIST (ultrasound) model trained long enough (2 epochs) that its neurons fire."""
    from engine.learning.trainer import Trainer
    from engine.options import TrainConfig

    run_dir = tmp_path_factory.mktemp("runs") / "breast"
    config = TrainConfig(dataset="breastmnist", data_root=str(medmnist_root), epochs=2, batch_size=32, lr=5e-3,
                         model_overrides={"dims": [8, 16, 32], "heads": 2}, device="cpu")
    Trainer(config, run_dir).run()
    return run_dir


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A tiny run (phantom2d, one epoch on 100 images) trained through the CLI: for eval/infer tests."""
    from engine.cli import main

    out = tmp_path_factory.mktemp("cli") / "run"
    code = main(["train", "--dataset", "phantom2d", "--epochs", "1", "--batch-size", "50", "--train-limit", "100",
                 "--model-options", '{"dims": [8, 16, 32]}', "--device", "cpu", "--out", str(out), "--exact-out"])
    assert code == 0
    return out


def pytest_collection_modifyitems(config, items):
    """`gpu` tests run where CUDA is; elsewhere they are skipped with the reason, never faked."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (marker gpu)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
