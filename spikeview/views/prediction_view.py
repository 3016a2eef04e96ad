"""One inference's answer: the input the model saw (the middle slice of a volume) and the class
probabilities as bars, the predicted class highlighted. The two are shown separately: an input outside
the model's domain is shown before (or without) its probabilities."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QWidget

from spikeview.views.attention_view import display_image
from spikeview.views.colormaps import lookup_table

BAR, PREDICTED_BAR = "#4fc3f7", "#fbbc04"


class PredictionView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.input_plot = pg.PlotWidget(title="input the model saw")
        self.input_plot.setAspectLocked(True)
        self.input_plot.invertY(True)
        self.input_plot.hideAxis("left")
        self.input_plot.hideAxis("bottom")
        self.input_image = pg.ImageItem(axisOrder="row-major")
        self.input_plot.addItem(self.input_image)
        self.prob_plot = pg.PlotWidget(title="class probabilities")
        self.prob_plot.setYRange(0, 1)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=BAR)
        self.prob_plot.addItem(self.bars)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.input_plot, 1)
        layout.addWidget(self.prob_plot, 1)

    def show_input(self, model_input: np.ndarray) -> None:
        """The input [C, *spatial] in [0, 1] (a volume: its middle slice)."""
        image = model_input[:, model_input.shape[1] // 2] if model_input.ndim == 4 else model_input
        shown = display_image(image)
        self.input_image.setImage(shown, autoLevels=False, levels=(0, 255),
                                  lut=lookup_table("Grey") if shown.ndim == 2 else None)

    def clear(self) -> None:
        self.input_image.clear()
        self.bars.setOpts(x=[], height=[], brushes=[])
        self.prob_plot.getAxis("bottom").setTicks([[]])

    def show_probabilities(self, probabilities: np.ndarray, names: list[str], predicted: int) -> None:
        """One probability and one name per class; the predicted one highlighted."""
        self.bars.setOpts(x=np.arange(len(probabilities)), height=probabilities,
                          brushes=[PREDICTED_BAR if i == predicted else BAR for i in range(len(names))])
        self.prob_plot.getAxis("bottom").setTicks([[(i, n[:12]) for i, n in enumerate(names)]])
