"""Fixtures for the engine tests only (the shared ones are in tests/conftest.py)."""
from __future__ import annotations

import shutil

import pytest

from postgres_server import must_exist_here, start_server


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
