"""Small form widgets shared by the panels."""
from __future__ import annotations

from PySide6.QtWidgets import QLayout, QSpinBox, QVBoxLayout, QWidget


def spin_box(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin


def settings_column(parent: QWidget, form: QLayout, buttons: QLayout, *below: QWidget) -> QVBoxLayout:
    """A panel's left column: the form, its buttons, then progress/status widgets, packed to the top."""
    column = QVBoxLayout(parent)
    column.addLayout(form)
    column.addLayout(buttons)
    for widget in below:
        column.addWidget(widget)
    column.addStretch(1)
    return column
