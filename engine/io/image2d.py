"""PNG / JPEG / TIFF / BMP pictures through Pillow: kept 2D, grey or RGB."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.io.volume import Volume


def read_picture(path: Path) -> Volume:
    with Image.open(path) as image:
        image.load()
        mode = image.mode
        if mode in ("1", "L", "I", "I;16", "I;16B", "F"):
            array = np.asarray(image)
        else:
            array = np.asarray(image.convert("RGB"))
        metadata = {"Format": image.format or path.suffix.lstrip(".").upper(), "Mode": mode}
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    return Volume(array=np.ascontiguousarray(array), spacing=(1.0, 1.0), modality="OT", metadata=metadata)
