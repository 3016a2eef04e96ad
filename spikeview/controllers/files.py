"""Files: scans and DICOM folders, label overlays beside them, the MedMNIST files under the data root,
and recordings saved to disk. Every read happens in a job (a long one can be cancelled); results go
into the session. The readers (engine.io: pydicom, nibabel) and the analysis (torch) are imported in
the jobs, so the window shows before them.

A scan whose slices are missing, unevenly spaced, tilted or sheared opens as stored, and the user is
offered the choice the big viewers offer (`resample_offered`): reopen it resampled onto an even,
straight grid (`reopen_resampled`), its label overlay carried over onto the new grid."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.data.catalog import available_datasets, load_split
from engine.data.medmnist import DatasetFile, default_data_root
from engine.data.spec import DatasetSpec
from engine.probe.recording import Recording
from spikeview.jobs import CancelCheck, Job, JobCancelled, JobRunner, ProgressCallback
from spikeview.resources import sample_scan_path
from spikeview.session import OpenScan, Session

if TYPE_CHECKING:
    from engine.io import SeriesInfo, Volume

__all__ = ["FilesController", "default_data_root", "scan_file_filter"]


def scan_file_filter() -> str:
    """The file dialogs' filter: every extension engine.io reads."""
    from engine.io import SUPPORTED_EXTENSIONS

    return "Scans ({});;All files (*)".format(" ".join(f"*{ext}" for ext in SUPPORTED_EXTENSIONS))


@dataclass
class _Opened:
    """What opening a path gave: a scan (and a label file lying beside it), or the series of a folder."""

    volume: Volume | None = None
    label_path: Path | None = None
    series: list[SeriesInfo] | None = None
    series_uid: str | None = None


class FilesController(QObject):
    failed = Signal(str, str)  # title, one-sentence message
    warned = Signal(str, str)  # title, message
    resample_offered = Signal(object, str)  # OpenScan opened as stored whose geometry resampling corrects, why
    series_found = Signal(object, list)  # folder, [SeriesInfo]: the user picks one, then open_path(folder, uid)
    label_found = Signal(object, object)  # OpenScan, label path: offer it, then open_label(path, scan)
    datasets_listed = Signal(list)  # [DatasetFile]: the MedMNIST files under the data root, the phantoms
    split_loaded = Signal(object, str, object, object)  # DatasetFile, split, images, labels
    split_failed = Signal(str)
    recording_opened = Signal()  # a recording from disk is the session's recording now

    def __init__(self, session: Session, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.runner = session, runner
        self._splits: dict[tuple[tuple, str], tuple[np.ndarray, np.ndarray]] = {}  # (dataset key, split)
        self._sample_scan: OpenScan | None = None
        self._sources: dict[int, tuple[Path, str | None]] = {}  # scan uid -> (path, series) it was read from
        session.data_root_changed.connect(lambda _root: self.list_datasets())

    @property
    def busy(self) -> bool:
        return bool(self.runner.active)

    # ---- scans -----------------------------------------------------------------------------------
    def open_paths(self, paths) -> None:
        for path in paths:
            self.open_path(Path(path))

    def open_path(self, path: Path, series_uid: str | None = None) -> Job | None:
        """A file or DICOM folder, read in the background; a folder with several series asks first.
        A scan already open (the same file, folder and series) is shown again, not opened twice."""
        path = Path(path)
        already = self.session.find_scan(path, series_uid)
        if already is not None:
            self.session.set_current(already)
            return None
        return self.runner.run(
            f"Opening {path.name}", lambda progress, cancelled: _open(path, series_uid, progress, cancelled),
            on_success=lambda opened: self._on_opened(path, series_uid, opened),
            on_failure=lambda message: self.failed.emit(f"Could not open {path.name}", message), needs_torch=False,
        )

    def open_sample_scan(self) -> Job:
        """The phantom volume that ships with SpikeView (for a first try with no data)."""
        return self.open_path(sample_scan_path())

    def _on_opened(self, path: Path, series_uid: str | None, opened: _Opened) -> None:
        if opened.series is not None:
            if len(opened.series) == 1:
                self.open_path(path, opened.series[0].uid)
            else:
                self.series_found.emit(path, opened.series)
            return
        scan = self.session.add_scan(opened.volume, path, series_uid)
        self._sources[scan.uid] = (path, series_uid)
        if self.can_resample(scan):
            self.resample_offered.emit(scan, " ".join(opened.volume.warnings))
        elif opened.volume.warnings:
            self.warned.emit(f"Opened {path.name} with changes", " ".join(opened.volume.warnings))
        if opened.label_path is not None:
            self.label_found.emit(scan, opened.label_path)

    def can_resample(self, scan: OpenScan | None) -> bool:
        """True for a scan read from a file, opened as stored, whose geometry resampling would correct."""
        return (scan is not None and scan.uid in self._sources
                and any(issue.resampling_fixes for issue in scan.volume.geometry_issues)
                and scan.volume.metadata.get("Geometry") == "as stored")

    def reopen_resampled(self, scan: OpenScan) -> Job | None:
        """Read the scan again resampled onto an even, straight grid; it replaces the one opened as stored."""
        if not self.can_resample(scan):
            self.failed.emit("Nothing to resample", f"{scan.title} has no geometry that resampling corrects.")
            return None
        path, series_uid = self._sources[scan.uid]
        label = scan.label

        def work(progress, _cancelled) -> tuple[Volume, Volume | None]:
            from engine.io import RESAMPLE, load, resample_label

            volume = load(path, series_uid=series_uid, progress=progress, geometry=RESAMPLE)
            return volume, resample_label(label, volume) if label is not None else None

        return self.runner.run(
            f"Resampling {path.name}", work, on_success=lambda result: self._replace(scan, path, series_uid, *result),
            on_failure=lambda message: self.failed.emit(f"Could not resample {path.name}", message), needs_torch=False,
        )

    def _replace(self, old: OpenScan, path: Path, series_uid: str | None, volume: Volume, label: Volume | None) -> None:
        self.session.remove_scan(old)
        self._sources.pop(old.uid, None)
        scan = self.session.add_scan(volume, path, series_uid)
        self._sources[scan.uid] = (path, series_uid)
        if label is not None:
            scan.label_opacity = old.label_opacity
            self.session.set_label(scan, label)

    def open_label(self, path: Path, scan: OpenScan | None = None) -> Job | None:
        scan = scan or self.session.current
        if scan is None:
            self.failed.emit("No scan open", "Open a scan first, then its label file.")
            return None
        name = Path(path).name

        def work(_progress, _cancelled) -> Volume:
            from engine.io import load_label

            return load_label(path, scan.volume)

        return self.runner.run(
            f"Opening label {name}", work,
            on_success=lambda label: self.session.set_label(scan, label),
            on_failure=lambda message: self.failed.emit(f"Could not overlay {name}", message), needs_torch=False,
        )

    def close_current_scan(self) -> None:
        if self.session.current is not None:
            if self.session.current is self._sample_scan:
                self._sample_scan = None
            self._sources.pop(self.session.current.uid, None)
            self.session.remove_scan(self.session.current)

    # ---- MedMNIST files under the data root --------------------------------------------------------
    def list_datasets(self) -> Job:
        root = self.session.data_root
        return self.runner.run(f"Looking for datasets in {root.name}", lambda _p, _c: available_datasets(root),
                               on_success=self._on_datasets_listed,
                               on_failure=lambda message: self.failed.emit("Could not list the datasets", message),
                               needs_torch=False)

    def _on_datasets_listed(self, datasets: list[DatasetFile]) -> None:
        self.session.set_datasets(datasets)
        self.datasets_listed.emit(datasets)

    def load_split(self, dataset: DatasetFile, split: str) -> Job | None:
        """The split's images and labels (`split_loaded`), read once and kept."""
        key = (dataset.key, split)
        if key in self._splits:
            self.split_loaded.emit(dataset, split, *self._splits[key])
            return None
        return self.runner.run(
            f"Loading {dataset.title} {split}", lambda _p, _c: load_split(dataset.spec, split, dataset.root),
            on_success=lambda arrays: self._on_split(dataset, split, arrays),
            on_failure=self._on_split_failed, needs_torch=False,
        )

    def _on_split(self, dataset: DatasetFile, split: str, arrays: tuple[np.ndarray, np.ndarray]) -> None:
        self._splits[(dataset.key, split)] = arrays
        self.split_loaded.emit(dataset, split, *arrays)

    def _on_split_failed(self, message: str) -> None:
        self.split_failed.emit(message)
        self.failed.emit("Could not load the dataset", message)

    def open_sample(self, spec: DatasetSpec, image: np.ndarray, label: np.ndarray, split: str, index: int) -> OpenScan:
        """A dataset sample as a scan; it replaces the previous sample (the gallery is for browsing)."""
        from engine.io.medmnist_files import sample_to_volume  # numpy only: no readers

        if self._sample_scan is not None:
            self.session.remove_scan(self._sample_scan)
        self._sample_scan = self.session.add_scan(sample_to_volume(image, spec, label, split, index))
        return self._sample_scan

    # ---- recordings ------------------------------------------------------------------------------
    def open_recording(self, path: Path) -> Job:
        path = Path(path)

        def work(_progress, _cancelled):
            from engine.probe.analysis import analyse

            return analyse(Recording.load(path))

        return self.runner.run(
            f"Opening {path.name}", work,
            on_success=lambda analysis: self._on_recording(analysis, path),
            on_failure=lambda message: self.failed.emit("Could not open the recording", message),
        )

    def _on_recording(self, analysis, path: Path) -> None:
        self.session.set_recording(analysis, f"Recording {path.name}")
        self.recording_opened.emit()

    def save_recording(self, path: Path) -> Job | None:
        shown = self.session.recording
        if shown is None:
            self.failed.emit("Nothing to export", "There is no recording to save yet.")
            return None
        return self.runner.run(f"Saving {Path(path).name}", lambda _p, _c: shown.recording.save(path),
                               on_failure=lambda message: self.failed.emit("Could not save the recording", message),
                               needs_torch=False)


def _open(path: Path, series_uid: str | None, progress: ProgressCallback, cancelled: CancelCheck) -> _Opened:
    from engine.io import find_label_for, list_series, load

    def report(fraction: float) -> None:  # the readers report every slice: a cancel stops them there
        if cancelled():
            raise JobCancelled
        progress(fraction)

    if path.is_dir() and series_uid is None:
        return _Opened(series=list_series(path, report))
    return _Opened(volume=load(path, series_uid=series_uid, progress=report), label_path=find_label_for(path),
                   series_uid=series_uid)
