"""The built installers: taken from dist/ when they were built from this commit, else built now
(`python installer/build.py`, about 4-5 minutes). SPIKEVIEW_REBUILD_INSTALLER=1 forces a build."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
BUILD_INFO = DIST / "SpikeView" / "_internal" / "spikeview" / "build_info.json"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only Linux installers are built here")


@dataclass
class Installers:
    archive: Path
    deb: Path
    version: str


def _head_commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()


def _built_from_head() -> bool:
    try:
        return json.loads(BUILD_INFO.read_text())["commit"] == _head_commit()
    except (OSError, ValueError, KeyError):
        return False


@pytest.fixture(scope="session")
def installers() -> Installers:
    if os.environ.get("SPIKEVIEW_REBUILD_INSTALLER") or not _built_from_head():
        subprocess.run([sys.executable, str(REPO / "installer" / "build.py")], cwd=REPO, check=True)
    version = json.loads(BUILD_INFO.read_text())["version"]
    archive = next(DIST.glob(f"SpikeView-{version}-linux-*.tar.gz"))
    deb = next(DIST.glob(f"spikeview_{version}_*.deb"))
    return Installers(archive, deb, version)


@pytest.fixture(scope="session")
def unpacked_archive(installers: Installers, tmp_path_factory) -> Path:
    """The archive unpacked into an empty folder, as a user would: returns the SpikeView/ folder."""
    target = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(installers.archive) as archive:
        archive.extractall(target, filter="tar")
    return target / "SpikeView"


@pytest.fixture
def user_env(tmp_path) -> dict[str, str]:
    """A fresh user: empty home and state folder (the log file lands there), the display of the session."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "SPIKEVIEW_", "PYTHON"))}
    env.update(HOME=str(home), XDG_STATE_HOME=str(home / ".local" / "state"),
               XDG_CONFIG_HOME=str(home / ".config"), XDG_RUNTIME_DIR=str(tmp_path))
    return env
