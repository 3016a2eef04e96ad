"""Fixtures shared by the engine tests."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.cli import main
from postgres_server import must_exist_here, start_server


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A tiny run (phantom2d, one epoch on 100 images) trained through the CLI: for eval/infer tests."""
    out = tmp_path_factory.mktemp("cli") / "run"
    code = main(["train", "--dataset", "phantom2d", "--epochs", "1", "--batch-size", "50", "--train-limit", "100",
                 "--model-options", '{"dims": [8, 16, 32]}', "--device", "cpu", "--out", str(out), "--exact-out"])
    assert code == 0
    return out


@pytest.fixture(scope="session")
def postgresql_server():
    """A real PostgreSQL server for this test session (tests/engine/postgres_server.py).

    Missing server binaries fail the tests where CI runs (root with apt-get: .ci/run installs
    postgresql) and skip them, with the reason, on a workstation without PostgreSQL.
    """
    try:
        server = start_server()
    except FileNotFoundError as exc:
        message = f"{exc}: apt-get install postgresql"
        if must_exist_here():
            pytest.fail(message)
        pytest.skip(message)
    yield server
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)
