"""Energy of one inference: synaptic operations (ACs), MACs and estimated energy of the spiking
network, against the same network run as a non-spiking one (an `engine` EnergyReport)."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QWidget


def _si(value: float) -> str:
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {suffix}"
    return f"{value:.3g}"


class EnergyView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = None
        self.fields = {key: QLabel("–") for key in ("sops", "macs", "dense", "snn", "ann", "ratio")}
        form = QFormLayout()
        for key, title in (("sops", "Synaptic operations (AC)"), ("macs", "Multiply-accumulates (MAC)"),
                           ("dense", "Dense operations (all inputs active)"), ("snn", "Spiking energy / inference"),
                           ("ann", "Same network, non-spiking"), ("ratio", "Spiking / non-spiking")):
            form.addRow(title, self.fields[key])
        self.plot = pg.PlotWidget(title="energy per inference (µJ)")
        self.bars = pg.BarGraphItem(x=[0, 1], height=[0, 0], width=0.6, brushes=["#4fc3f7", "#9e9e9e"])
        self.plot.addItem(self.bars)
        self.plot.getAxis("bottom").setTicks([[(0, "spiking"), (1, "non-spiking")]])
        layout = QHBoxLayout(self)
        holder = QWidget()
        holder.setLayout(form)
        layout.addWidget(holder, 1)
        layout.addWidget(self.plot, 1)

    def set_report(self, report) -> None:
        """An engine.models.energy.EnergyReport, or None to clear."""
        self.report = report
        if report is None:
            for label in self.fields.values():
                label.setText("–")
            self.bars.setOpts(height=[0, 0])
            return
        self.fields["sops"].setText(_si(report.synaptic_ops))
        self.fields["macs"].setText(_si(report.macs))
        self.fields["dense"].setText(_si(report.dense_ops))
        self.fields["snn"].setText(f"{report.energy_pj / 1e6:.4g} µJ ({report.timesteps} timesteps)")
        self.fields["ann"].setText(f"{report.ann_energy_pj / 1e6:.4g} µJ")
        self.fields["ratio"].setText(f"{report.ratio_to_ann:.3f}×")
        self.bars.setOpts(height=[report.energy_pj / 1e6, report.ann_energy_pj / 1e6])
