"""256-entry lookup tables for display (display-only: no engine logic here)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

COLORMAPS = ("Grey", "Inverted grey", "Hot", "Viridis", "Magma")
LABEL_COLOURS = np.array(
    [[0, 0, 0, 0], [230, 25, 75, 255], [60, 180, 75, 255], [255, 225, 25, 255], [0, 130, 200, 255],
     [245, 130, 48, 255], [145, 30, 180, 255], [70, 240, 240, 255], [240, 50, 230, 255], [210, 245, 60, 255]],
    dtype=np.uint8,
)


def lookup_table(name: str) -> np.ndarray:
    """(256, 3) uint8 table for a colormap name from COLORMAPS."""
    ramp = np.arange(256, dtype=np.uint8)
    if name == "Grey":
        return np.stack([ramp] * 3, axis=1)
    if name == "Inverted grey":
        return np.stack([ramp[::-1]] * 3, axis=1)
    if name == "Hot":
        x = np.linspace(0, 1, 256)
        return (np.stack([np.clip(3 * x, 0, 1), np.clip(3 * x - 1, 0, 1), np.clip(3 * x - 2, 0, 1)], axis=1) * 255).astype(np.uint8)
    return pg.colormap.get(name.lower()).getLookupTable(nPts=256, alpha=False)


def label_lookup_table() -> np.ndarray:
    """(256, 4) RGBA table: 0 transparent, labels 1.. cycle through distinct colours."""
    table = np.zeros((256, 4), dtype=np.uint8)
    table[1:] = LABEL_COLOURS[1:][(np.arange(255)) % (len(LABEL_COLOURS) - 1)]
    return table
