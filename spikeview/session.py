"""The app's state without widgets, the one model the views subscribe to (as napari's Qt widgets
subscribe to their model's events): open scans with their label overlays and the current one, the
dataset root and recent files, the runs folder and the chosen run, and the recording the dynamics
views show with its timestep. Every change is a signal; nothing here reads files or runs torch."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from engine.io.volume import Volume
from engine.probe.recording import RecordingAnalysis

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
    """Emits a signal on every change; `data_root` is where the MedMNIST files are."""

    scan_added = Signal(object)  # OpenScan
    scan_removed = Signal(object)  # OpenScan
    current_changed = Signal(object)  # OpenScan | None
    label_changed = Signal(object)  # OpenScan whose label or opacity changed
    data_root_changed = Signal(object)  # Path
    recent_changed = Signal(list)
    runs_folder_changed = Signal(object)  # Path
    run_changed = Signal(object)  # Path | None: the run chosen (or trained) last
    recording_changed = Signal(object, str)  # RecordingAnalysis | None, where it comes from
    timestep_changed = Signal(int)

    def __init__(self, data_root: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scans: list[OpenScan] = []
        self.current: OpenScan | None = None
        self._data_root = Path(data_root)
        self._runs_folder: Path | None = None  # None: <data root>/runs
        self.run: Path | None = None
        self.recording: RecordingAnalysis | None = None
        self.recording_source = ""
        self.timestep = 0

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

    # ---- datasets and runs ---------------------------------------------------------------------
    @property
    def data_root(self) -> Path:
        return self._data_root

    def set_data_root(self, root: Path) -> None:
        self._data_root = Path(root)
        self.data_root_changed.emit(self._data_root)
        if self._runs_folder is None:
            self.runs_folder_changed.emit(self.runs_folder)

    @property
    def runs_folder(self) -> Path:
        return self._runs_folder or self._data_root / "runs"

    def set_runs_folder(self, folder: Path) -> None:
        self._runs_folder = Path(folder)
        self.runs_folder_changed.emit(self._runs_folder)

    def set_run(self, path: Path | None) -> None:
        """Choose a run (emitted even when it is the same one: choosing again shows it afresh)."""
        self.run = Path(path) if path else None
        self.run_changed.emit(self.run)

    # ---- the recording shown by the dynamics views, and its timestep ----------------------------
    def set_recording(self, recording: RecordingAnalysis | None, source: str = "") -> None:
        self.recording, self.recording_source = recording, source
        if recording is not None:
            self.timestep = min(self.timestep, recording.recording.timesteps - 1)
        self.recording_changed.emit(recording, source)

    def set_timestep(self, timestep: int) -> None:
        last = self.recording.recording.timesteps - 1 if self.recording is not None else 0
        self.timestep = max(0, min(int(timestep), last))
        self.timestep_changed.emit(self.timestep)

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
