"""Files in the repository's resources/ folder (style sheet, window/level presets)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


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
        raw = json.loads((RESOURCES / "window_presets.json").read_text())
    except (OSError, ValueError):
        log.warning("window presets not found in %s; using built-in ones", RESOURCES)
        raw = _FALLBACK
    return {group: tuple(WindowPreset(**item) for item in raw.get(group, [])) for group in ("CT", "auto")}


def style_sheet() -> str:
    try:
        return (RESOURCES / "style.qss").read_text()
    except OSError:
        return ""
