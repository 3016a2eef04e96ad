"""The app's state without widgets, the one model the views subscribe to (as napari's Qt widgets
subscribe to their model's events): open scans with their label overlays and window, the current one,
the dataset root and the dataset shown in the browser, recent files, the runs folder and the chosen
run, and the recording the dynamics views show with its timestep. Every change is a signal; nothing
here reads files or runs torch.

What outlives the app goes to QSettings here: the data folder, the runs folder, recent files and runs,
and the window (W/L) the user chose for each scan file.
"""
from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Signal

if TYPE_CHECKING:
    from engine.data.medmnist import DatasetFile
    from engine.io.volume import Volume
    from engine.probe.recording import RecordingAnalysis

MAX_RECENT = 10


def _path_list(key: str) -> list[Path]:
    values = QSettings().value(key, [])
    if isinstance(values, str):
        values = [values]
    return [Path(v) for v in (values or [])]


def _push_path(key: str, path: Path) -> list[Path]:
    """Put `path` first in the QSettings list `key` (at most MAX_RECENT, no repeats); the new list."""
    text = str(Path(path).resolve())
    paths = [text] + [str(p) for p in _path_list(key) if str(p) != text]
    QSettings().setValue(key, paths[:MAX_RECENT])
    return _path_list(key)


@dataclass(eq=False)
class OpenScan:
    """A scan open in the app, with its optional label overlay."""

    volume: Volume
    source: Path | None = None
    label: Volume | None = None
    label_opacity: float = 0.4
    series_uid: str | None = None  # the series of a DICOM folder
    levels: tuple[float, float] | None = None  # the window (W/L) as low, high (None: not chosen yet)
    window_name: str = ""  # the preset it came from ("" : set by hand, a right-drag)
    uid: int = field(default_factory=itertools.count(1).__next__)

    @property
    def title(self) -> str:
        return self.volume.name or (self.source.name if self.source else f"scan {self.uid}")

    def is_from(self, path: Path, series_uid: str | None = None) -> bool:
        """Opened from `path` (the same file or folder) and, for a DICOM folder, the same series."""
        return (self.source is not None and self.source.resolve() == Path(path).resolve()
                and (series_uid is None or self.series_uid == series_uid))

    @property
    def settings_key(self) -> str | None:
        """Where this scan's window is kept in QSettings (None: not from a file)."""
        if self.source is None:
            return None
        text = f"{self.source.resolve()}|{self.series_uid or ''}"
        return "scan_window/" + hashlib.sha1(text.encode()).hexdigest()[:16]


class Session(QObject):
    """Emits a signal on every change; `data_root` is where the MedMNIST files are."""

    scan_added = Signal(object)  # OpenScan
    scan_removed = Signal(object)  # OpenScan
    current_changed = Signal(object)  # OpenScan | None
    label_changed = Signal(object)  # OpenScan whose label or opacity changed
    window_changed = Signal(object)  # OpenScan whose window (W/L) changed
    data_root_changed = Signal(object)  # Path
    datasets_changed = Signal(list)  # [DatasetFile]: what the data root holds (and the phantoms)
    dataset_changed = Signal(object)  # DatasetFile shown in the browser
    recent_changed = Signal(list)
    recent_runs_changed = Signal(list)
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
        self.datasets: list[DatasetFile] = []
        self.dataset: DatasetFile | None = None
        self.run: Path | None = None
        self.recording: RecordingAnalysis | None = None
        self.recording_source = ""
        self.timestep = 0

    # ---- scans ---------------------------------------------------------------------------------
    def add_scan(self, volume: Volume, source: Path | None = None, series_uid: str | None = None) -> OpenScan:
        scan = OpenScan(volume=volume, source=Path(source) if source else None, series_uid=series_uid)
        scan.levels, scan.window_name = self._remembered_window(scan)
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

    def find_scan(self, path: Path, series_uid: str | None = None) -> OpenScan | None:
        return next((scan for scan in self.scans if scan.is_from(path, series_uid)), None)

    def set_window(self, scan: OpenScan, levels: tuple[float, float], name: str = "", remember: bool = True) -> None:
        """`scan`'s window (W/L) as (low, high), from the preset `name` or by hand (""); a window the
        user chose (`remember`) is kept for the scan's file and comes back when it is opened again."""
        scan.levels, scan.window_name = (float(levels[0]), float(levels[1])), name
        if remember and scan.settings_key is not None:
            QSettings().setValue(scan.settings_key, [*scan.levels, name])
        self.window_changed.emit(scan)

    @staticmethod
    def _remembered_window(scan: OpenScan) -> tuple[tuple[float, float] | None, str]:
        value = QSettings().value(scan.settings_key) if scan.settings_key is not None else None
        try:
            low, high, name = float(value[0]), float(value[1]), str(value[2])
        except (TypeError, ValueError, IndexError):
            return None, ""
        return ((low, high), name) if high > low else (None, "")

    # ---- datasets and runs ---------------------------------------------------------------------
    @property
    def data_root(self) -> Path:
        return self._data_root

    def set_data_root(self, root: Path) -> None:
        self._data_root = Path(root)
        QSettings().setValue("data_root", str(self._data_root))
        self.data_root_changed.emit(self._data_root)
        if self._runs_folder is None:
            self.runs_folder_changed.emit(self.runs_folder)

    @staticmethod
    def remembered_data_root() -> Path | None:
        """The data folder chosen in an earlier session, if it still exists."""
        value = QSettings().value("data_root")
        return Path(value) if value and Path(value).is_dir() else None

    def set_datasets(self, datasets: list[DatasetFile]) -> None:
        self.datasets = list(datasets)
        self.datasets_changed.emit(self.datasets)

    def set_dataset(self, dataset: DatasetFile | None) -> None:
        """The dataset the browser shows (the training form follows it)."""
        self.dataset = dataset
        self.dataset_changed.emit(dataset)

    @property
    def runs_folder(self) -> Path:
        return self._runs_folder or self._data_root / "runs"

    def set_runs_folder(self, folder: Path) -> None:
        self._runs_folder = Path(folder)
        self.runs_folder_changed.emit(self._runs_folder)

    def set_run(self, path: Path | None) -> None:
        """Choose a run (emitted even when it is the same one: choosing again shows it afresh)."""
        self.run = Path(path) if path else None
        if self.run is not None:
            self.recent_runs_changed.emit(_push_path("recent_runs", self.run))
        self.run_changed.emit(self.run)

    @staticmethod
    def recent_runs() -> list[Path]:
        """Runs chosen in earlier sessions, newest first, that still exist."""
        return [path for path in _path_list("recent_runs") if path.is_dir()]

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
        return _path_list("recent_files")

    def add_recent(self, path: Path) -> None:
        self.recent_changed.emit(_push_path("recent_files", path))

    def clear_recent(self) -> None:
        QSettings().setValue("recent_files", [])
        self.recent_changed.emit([])
