"""Layout helpers shared by views and panels."""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget


def header_and_body(parent: QWidget, header: list[QWidget], body: list[QWidget], margin: int = 2) -> QVBoxLayout:
    """A row of header widgets (the first takes the spare width) above the body widgets (the last takes
    the spare height)."""
    top = QHBoxLayout()
    top.addWidget(header[0], 1)
    for widget in header[1:]:
        top.addWidget(widget)
    layout = QVBoxLayout(parent)
    layout.setContentsMargins(margin, margin, margin, margin)
    layout.addLayout(top)
    for widget in body[:-1]:
        layout.addWidget(widget)
    layout.addWidget(body[-1], 1)
    return layout
