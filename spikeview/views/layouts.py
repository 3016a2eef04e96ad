"""Layout helpers shared by views and panels."""
from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QFrame, QHBoxLayout, QScrollArea, QVBoxLayout, QWidget


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


class _Fill(QWidget):
    """Holds one widget filling it, without a layout: a scroll area then sizes it by its least size,
    not by the height for width that a word-wrapped label anywhere inside would ask for."""

    def __init__(self, child: QWidget) -> None:
        super().__init__()
        self.child = child
        child.setParent(self)
        child.show()  # shown with this holder (a reparented widget is hidden until asked)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.child.minimumSizeHint().expandedTo(self.child.minimumSize())

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.child.sizeHint()

    def resizeEvent(self, event) -> None:  # noqa: N802
        self.child.setGeometry(self.rect())
        super().resizeEvent(event)


def scroll_when_short(widget: QWidget) -> QScrollArea:
    """`widget` in a frameless scroll area that scrolls only below the widget's least size, so the
    dock holding it can be made as short as the user likes."""
    scroll = QScrollArea()
    scroll.setWidget(_Fill(widget))
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    return scroll
