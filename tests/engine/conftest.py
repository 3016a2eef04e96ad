"""Fixtures shared by the engine tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A tiny run (phantom2d, one epoch on 100 images) trained through the CLI: for eval/infer tests."""
    out = tmp_path_factory.mktemp("cli") / "run"
    code = main(["train", "--dataset", "phantom2d", "--epochs", "1", "--batch-size", "50", "--train-limit", "100",
                 "--model-options", '{"dims": [8, 16, 32]}', "--device", "cpu", "--out", str(out), "--exact-out"])
    assert code == 0
    return out


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
