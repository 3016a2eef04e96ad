"""Small form widgets shared by the panels."""
from __future__ import annotations

from PySide6.QtWidgets import QSpinBox


def spin_box(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin
