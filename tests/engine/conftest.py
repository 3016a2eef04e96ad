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

