"""Files that ship with the app: style sheet, window/level presets, icon, sample scan and run.

They live in the repository's top-level `resources/` folder. An installed SpikeView (a wheel or the
frozen workstation app) carries a copy inside the package as `spikeview/resource_files/`.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

_PACKAGE = Path(__file__).resolve().parent
INSTALLED_RESOURCES = _PACKAGE / "resource_files"
SOURCE_RESOURCES = _PACKAGE.parent / "resources"


@lru_cache(maxsize=1)
def resources_dir() -> Path:
    """The resources folder of this installation: the installed copy, else the source checkout's."""
    for folder in (INSTALLED_RESOURCES, SOURCE_RESOURCES):
        if (folder / "style.qss").is_file():
            return folder
    log.warning("SpikeView's resources were not found in %s or %s; using built-in defaults",
                INSTALLED_RESOURCES, SOURCE_RESOURCES)
    return INSTALLED_RESOURCES


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def icon_path() -> Path:
    return resource("icons", "spikeview.svg")


def sample_scan_path() -> Path:
    """A small phantom volume that ships with the app (made by installer/make_sample_data.py)."""
    return resource("sample", "sample_phantom.nii.gz")


def sample_run_path() -> Path:
    """A small model trained on the phantom3d dataset, shipped with the app."""
    return resource("sample", "sample_run")


@dataclass(frozen=True)
class WindowPreset:
    """A display window: fixed (window/level) or automatic (percentiles of the scan)."""

    name: str
    window: float | None = None
    level: float | None = None
    low_percentile: float | None = None
    high_percentile: float | None = None

    @property
    def is_auto(self) -> bool:
        return self.window is None


_FALLBACK = {"CT": [{"name": "Soft tissue", "window": 350, "level": 50}],
             "auto": [{"name": "Auto (1-99 %)", "low_percentile": 1, "high_percentile": 99}]}


@lru_cache(maxsize=1)
def window_presets() -> dict[str, tuple[WindowPreset, ...]]:
    """{'CT': fixed HU presets, 'auto': percentile presets} from resources/window_presets.json."""
    try:
        raw = json.loads(resource("window_presets.json").read_text())
    except (OSError, ValueError):
        log.warning("window presets not found in %s; using built-in ones", resources_dir())
        raw = _FALLBACK
    return {group: tuple(WindowPreset(**item) for item in raw.get(group, [])) for group in ("CT", "auto")}


def style_sheet() -> str:
    try:
        return resource("style.qss").read_text()
    except OSError:
        log.warning("style sheet not found in %s; using Qt's default look", resources_dir())
        return ""
