"""The inspector dock: dimensions, spacing, intensity range, labels and metadata of the session's
current scan. Patient identifiers (DICOM PS3.15's Basic Profile, see engine.io.confidentiality) stay
hidden until the user ticks "Show patient identifiers", which holds for that scan only: every scan
opens hidden."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from spikeview.session import OpenScan, Session


class Inspector(QWidget):
    """Follows the session's current scan and its label."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.scan: OpenScan | None = None
        self._revealed: set[int] = set()  # uids of the scans whose identifiers the user asked to see
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Property", "Value"])
        self.tree.setColumnWidth(0, 150)
        self.show_identifiers = QCheckBox("Show patient identifiers")
        self.show_identifiers.setChecked(False)
        self.show_identifiers.toggled.connect(self._reveal)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tree)
        layout.addWidget(self.show_identifiers)
        session.current_changed.connect(self.set_scan)
        session.label_changed.connect(self._on_label_changed)
        self.set_scan(session.current)

    def _on_label_changed(self, scan: OpenScan) -> None:
        if scan is self.session.current:
            self.set_scan(scan)

    def _reveal(self, shown: bool) -> None:
        if self.scan is not None:
            (self._revealed.add if shown else self._revealed.discard)(self.scan.uid)
            self.set_scan(self.scan)

    def set_scan(self, scan: OpenScan | None) -> None:
        self.scan = scan
        self.show_identifiers.blockSignals(True)
        self.show_identifiers.setChecked(scan is not None and scan.uid in self._revealed)
        self.show_identifiers.blockSignals(False)
        self.show_identifiers.setEnabled(scan is not None and bool(scan.volume.identifiers))
        self.tree.clear()
        if scan is None:
            return
        volume = scan.volume
        self._section("Scan", volume.summary())
        if scan.source is not None:
            self._section("File", {"Path": str(scan.source)})
        if volume.warnings:
            self._section("Warnings", {str(n + 1): text for n, text in enumerate(volume.warnings)})
        if scan.label is not None:
            label = scan.label
            details = {"File": label.name, **{str(k): v for k, v in sorted((label.label_names or {}).items())}}
            if "Resampled" in label.metadata:
                details["Resampled"] = label.metadata["Resampled"]
            details.update({f"Warning {n + 1}": text for n, text in enumerate(label.warnings)})
            self._section("Label overlay", details)
        self._section("Metadata", dict(sorted(volume.metadata.items())))
        if volume.identifiers:
            shown = scan.uid in self._revealed
            values = volume.identifiers if shown else {k: "(hidden)" for k in volume.identifiers}
            self._section("Patient identifiers", values)
        self.tree.expandAll()

    def _section(self, title: str, values: dict[str, str]) -> None:
        parent = QTreeWidgetItem([title])
        for key, value in values.items():
            item = QTreeWidgetItem(parent, [str(key), str(value)])
            item.setToolTip(1, str(value))  # the whole value where the column cuts it
        self.tree.addTopLevelItem(parent)

    def texts(self) -> list[str]:
        """Every value shown (for tests and copy/paste)."""
        found = []
        for top in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(top)
            found += [f"{item.child(n).text(0)}={item.child(n).text(1)}" for n in range(item.childCount())]
        return found
