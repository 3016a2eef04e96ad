"""The app's state without widgets: open scans, their label overlays, the current selection,
the dataset root and recent files. Views read it and react to its signals."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from engine.data.medmnist_data import default_data_root
from engine.io import Volume

MAX_RECENT = 10


@dataclass(eq=False)
class OpenScan:
    """A scan open in the app, with its optional label overlay."""

    volume: Volume
    source: Path | None = None
    label: Volume | None = None
    label_opacity: float = 0.4
    uid: int = field(default_factory=itertools.count(1).__next__)

    @property
    def title(self) -> str:
        return self.volume.name or (self.source.name if self.source else f"scan {self.uid}")


class Session(QObject):
    """Open scans, selection, data root; emits signals on every change."""

    scan_added = Signal(object)  # OpenScan
    scan_removed = Signal(object)  # OpenScan
    current_changed = Signal(object)  # OpenScan | None
    label_changed = Signal(object)  # OpenScan whose label or opacity changed
    data_root_changed = Signal(object)  # Path
    recent_changed = Signal(list)
    runs_folder_changed = Signal(object)  # Path
    recording_changed = Signal(object)  # engine.probe.recording.Recording | None: what the dynamics views show

    def __init__(self, data_root: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scans: list[OpenScan] = []
        self.current: OpenScan | None = None
        self._data_root = Path(data_root) if data_root else default_data_root()
        self._runs_folder: Path | None = None  # None: <data root>/runs
        self.recording = None

    # ---- scans ---------------------------------------------------------------------------------
    def add_scan(self, volume: Volume, source: Path | None = None) -> OpenScan:
        scan = OpenScan(volume=volume, source=Path(source) if source else None)
        self.scans.append(scan)
        self.scan_added.emit(scan)
        self.set_current(scan)
        if source is not None:
            self.add_recent(Path(source))
        return scan

    def remove_scan(self, scan: OpenScan) -> None:
        if scan not in self.scans:
            return
        self.scans.remove(scan)
        self.scan_removed.emit(scan)
        if self.current is scan:
            self.set_current(self.scans[-1] if self.scans else None)

    def set_current(self, scan: OpenScan | None) -> None:
        if scan is self.current:
            return
        self.current = scan
        self.current_changed.emit(scan)

    def set_label(self, scan: OpenScan, label: Volume | None) -> None:
        scan.label = label
        self.label_changed.emit(scan)

    def set_label_opacity(self, scan: OpenScan, opacity: float) -> None:
        scan.label_opacity = max(0.0, min(1.0, opacity))
        self.label_changed.emit(scan)

    # ---- datasets ------------------------------------------------------------------------------
    @property
    def data_root(self) -> Path:
        return self._data_root

    def set_data_root(self, root: Path) -> None:
        self._data_root = Path(root)
        self.data_root_changed.emit(self._data_root)
        if self._runs_folder is None:
            self.runs_folder_changed.emit(self.runs_folder)

    # ---- runs and the recording shown by the dynamics views -----------------------------------
    @property
    def runs_folder(self) -> Path:
        return self._runs_folder or self._data_root / "runs"

    def set_runs_folder(self, folder: Path) -> None:
        self._runs_folder = Path(folder)
        self.runs_folder_changed.emit(self._runs_folder)

    def set_recording(self, recording) -> None:
        self.recording = recording
        self.recording_changed.emit(recording)

    # ---- recent files (QSettings) --------------------------------------------------------------
    def recent_files(self) -> list[Path]:
        values = QSettings().value("recent_files", [])
        if isinstance(values, str):
            values = [values]
        return [Path(v) for v in (values or [])]

    def add_recent(self, path: Path) -> None:
        text = str(Path(path).resolve())
        recent = [text] + [str(p) for p in self.recent_files() if str(p) != text]
        QSettings().setValue("recent_files", recent[:MAX_RECENT])
        self.recent_changed.emit(self.recent_files())

    def clear_recent(self) -> None:
        QSettings().setValue("recent_files", [])
        self.recent_changed.emit([])
