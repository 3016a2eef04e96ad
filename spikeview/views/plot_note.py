"""A sentence in the middle of a plot: what an empty or silent view is waiting for, or why it shows
nothing ("this layer fired no spikes at t = 2"), so that no view is blank without a reason."""
from __future__ import annotations

import pyqtgraph as pg

NOTE_COLOUR = "#bdc1c6"


class PlotNote:
    """`show(text)` puts `text` in the middle of `plot`'s view (it stays there when the view is
    resized or panned); `hide()` removes it; `text` is what it says ("" when hidden)."""

    def __init__(self, plot: pg.PlotWidget) -> None:
        self.box = plot.getPlotItem().getViewBox()
        self.item = pg.TextItem("", color=NOTE_COLOUR, anchor=(0.5, 0.5))
        self.item.setParentItem(self.box)  # in the box's pixels, not in data coordinates
        self.item.setZValue(10)
        self.box.sigResized.connect(lambda _box: self._centre())
        self.text = ""
        self.hide()

    def show(self, text: str) -> None:
        self.text = text
        self.item.setText(text)
        self._centre()
        self.item.show()

    def hide(self) -> None:
        self.text = ""
        self.item.hide()

    def set(self, text: str) -> None:
        """Show `text`, or hide the note when it is empty."""
        self.show(text) if text else self.hide()

    def _centre(self) -> None:
        self.item.setPos(self.box.width() / 2, self.box.height() / 2)
