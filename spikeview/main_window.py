"""The main window: composition only (docks, menus, toolbar, status bar) and wiring of views to
the session. Reading and analysis happen in `engine`, off the GUI thread through `jobs`."""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QImage, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QComboBox, QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QSlider,
    QStackedWidget, QToolBar, QWidget,
)

from engine.io import SUPPORTED_EXTENSIONS, Volume, find_label_for, list_series, load, load_label
from spikeview import RESEARCH_NOTICE
from spikeview.jobs import Job, JobRunner
from spikeview.resources import window_presets
from spikeview.session import OpenScan, Session
from spikeview.views.colormaps import COLORMAPS
from spikeview.views.dataset_browser import DatasetBrowser
from spikeview.views.dialogs import choose_series, show_about, show_error, show_warning
from spikeview.views.dynamics_panel import DynamicsPanel
from spikeview.views.inference_panel import InferencePanel
from spikeview.views.inspector import Inspector
from spikeview.views.ortho_view import OrthoView
from spikeview.views.runs_list import RunsList
from spikeview.views.slice_view import SliceView
from spikeview.views.snndeep_panel import SnnDeepPanel
from spikeview.views.training_panel import TrainingPanel
from spikeview.views.volume_view import RENDER_PRESETS, render_to_array

log = logging.getLogger(__name__)

FILE_FILTER = "Scans ({});;All files (*)".format(" ".join(f"*{ext}" for ext in SUPPORTED_EXTENSIONS))
WELCOME = (
    "<h2>SpikeView</h2><p>Open a scan with <b>File ▸ Open</b>, drop files here,"
    " or pick a dataset on the left.</p><p>NIfTI · DICOM · NRRD · PNG/JPEG · MedMNIST</p>"
    f"<p style='color:#fbbc04'>{RESEARCH_NOTICE}</p>"
)


class MainWindow(QMainWindow):
    def __init__(self, session: Session | None = None, runner: JobRunner | None = None, data_root: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("SpikeView")
        self.resize(1400, 900)
        self.session = session or Session(data_root)
        self.runner = runner or JobRunner(parent=self)
        self._sample_scan: OpenScan | None = None
        self._build_views()
        self._build_toolbar()
        self._build_menus()
        self._build_status_bar()
        self._connect()
        self.setAcceptDrops(True)

    # ---- construction ----------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.welcome = QLabel(WELCOME)
        self.welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_view = SliceView(view=None)
        self.ortho_view = OrthoView()
        self.stack = QStackedWidget()
        for page in (self.welcome, self.image_view, self.ortho_view):
            self.stack.addWidget(page)
        self.setCentralWidget(self.stack)
        self.browser = DatasetBrowser(self.session, self.runner)
        self.inspector = Inspector()
        self.browser_dock = self._dock("Browser", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self._build_spiking_docks()

    def _build_spiking_docks(self) -> None:
        """Runs beside the browser; training, inference and spike dynamics tabbed along the bottom."""
        self.runs_list = RunsList(self.session)
        self.training_panel = TrainingPanel(self.session, self.runner)
        self.inference_panel = InferencePanel(self.session, self.runner)
        self.dynamics = DynamicsPanel()
        self.snndeep_panel = SnnDeepPanel(self.session, self.runner)
        self.runs_dock = self._dock("Runs", self.runs_list, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.browser_dock, self.runs_dock)
        self.browser_dock.raise_()
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.training_dock = self._dock("Training", self.training_panel, bottom)
        self.inference_dock = self._dock("Inference", self.inference_panel, bottom)
        self.dynamics_dock = self._dock("Spike dynamics", self.dynamics, bottom)
        self.tabifyDockWidget(self.training_dock, self.inference_dock)
        self.snndeep_dock = self._dock("SNNDeep study", self.snndeep_panel, bottom)
        self.tabifyDockWidget(self.inference_dock, self.dynamics_dock)
        self.tabifyDockWidget(self.dynamics_dock, self.snndeep_dock)
        self.training_dock.raise_()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        dock.setMinimumWidth(300)
        return dock

    def _build_toolbar(self) -> None:
        bar = QToolBar("View")
        bar.setObjectName("ViewToolbar")
        self.addToolBar(bar)
        self.preset_box = QComboBox()
        self.preset_box.setMinimumWidth(160)
        self.preset_box.activated.connect(lambda _i: self.apply_window_preset(self.preset_box.currentText()))
        self.colormap_box = QComboBox()
        self.colormap_box.addItems(list(COLORMAPS))
        self.colormap_box.currentTextChanged.connect(self.set_colormap)
        self.render_box = QComboBox()
        self.render_box.addItems(list(RENDER_PRESETS))
        self.render_box.activated.connect(lambda _i: self.ortho_view.volume_view.set_preset(self.render_box.currentText()))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(40)
        self.opacity_slider.setMaximumWidth(120)
        self.opacity_slider.valueChanged.connect(self._on_opacity_changed)
        for text, widget in (("Window ", self.preset_box), (" Colours ", self.colormap_box),
                             (" 3D ", self.render_box), (" Label opacity ", self.opacity_slider)):
            bar.addWidget(QLabel(text))
            bar.addWidget(widget)

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open File…", self.ask_open_files, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open DICOM &Folder…", self.ask_open_folder)
        self.open_label_action = self._action(file_menu, "Open &Label Overlay…", self.ask_open_label)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addSeparator()
        self._action(file_menu, "Choose &Data Folder…", self.ask_data_root)
        self._action(file_menu, "Save &Screenshot…", self.ask_save_screenshot)
        self._action(file_menu, "&Close Scan", self.close_current_scan, QKeySequence.StandardKey.Close)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.browser_dock.toggleViewAction())
        view_menu.addAction(self.inspector_dock.toggleViewAction())
        for dock in (self.runs_dock, self.training_dock, self.inference_dock, self.dynamics_dock, self.snndeep_dock):
            view_menu.addAction(dock.toggleViewAction())
        run_menu = self.menuBar().addMenu("&Run")
        self._action(run_menu, "&Train…", lambda: self._show_dock(self.training_dock))
        self._action(run_menu, "&Inference…", lambda: self._show_dock(self.inference_dock))
        self._action(run_menu, "Open &Recording…", self.ask_open_recording)
        self._action(run_menu, "Save Recording…", self.dynamics.ask_save_recording)
        self._action(run_menu, "Save Metrics CSV…", self.training_panel.ask_export_csv)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About SpikeView", lambda: show_about(self))
        self._rebuild_recent_menu(self.session.recent_files())

    def _build_status_bar(self) -> None:
        self.notice_label = QLabel(RESEARCH_NOTICE)
        self.notice_label.setObjectName("researchNotice")
        self.cursor_label = QLabel("")
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(180)
        self.progress_bar.setRange(0, 100)
        self.progress_bar.hide()
        bar = self.statusBar()
        bar.addWidget(self.cursor_label, 1)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.notice_label)

    def _connect(self) -> None:
        self.session.current_changed.connect(self._show_scan)
        self.session.label_changed.connect(self._show_label)
        self.session.recent_changed.connect(self._rebuild_recent_menu)
        self.browser.sample_opened.connect(self.open_sample)
        self.browser.load_failed.connect(lambda message: show_error(self, "Could not load the dataset", message))
        self.image_view.cursor_moved.connect(self._show_cursor)
        self.ortho_view.cursor_moved.connect(self._show_cursor)
        self.runner.job_started.connect(self._on_job_started)
        self._connect_spiking()
        self.runner.job_finished.connect(self._on_job_finished)

    def _connect_spiking(self) -> None:
        self.runs_list.run_opened.connect(self._open_run)
        self.runs_list.selection_changed.connect(lambda path: path and self._open_run(path))
        self.training_panel.probe_recorded.connect(lambda rec: self.show_recording(rec, "Training probe (val sample)"))
        self.training_panel.run_ended.connect(self._on_training_ended)
        self.inference_panel.recorded.connect(self.show_recording)
        self.inference_panel.energy.connect(self.dynamics.set_energy)
        for panel, title in ((self.training_panel, "Training"), (self.inference_panel, "Inference"),
                             (self.snndeep_panel, "The SNNDeep study")):
            panel.error.connect(lambda message, t=title: show_error(self, f"{t} did not complete", message))
        self.dynamics.export_failed.connect(lambda message: show_error(self, "Nothing to export", message))

    # ---- runs and dynamics -----------------------------------------------------------------------
    def _show_dock(self, dock: QDockWidget) -> None:
        dock.show()
        dock.raise_()

    def _open_run(self, path: Path) -> None:
        self.training_panel.show_run(path)
        self.inference_panel.set_run(path)

    def _on_training_ended(self, path: Path, state: str) -> None:
        self.runs_list.refresh()
        self.runs_list.select_run(path)
        if state == "finished":
            self.inference_panel.set_run(path)

    def show_recording(self, recording, source: str = "") -> None:
        self.session.set_recording(recording)
        self.dynamics.set_recording(recording, source)

    def ask_open_recording(self) -> None:
        from engine.errors import UserError
        from engine.probe.recording import Recording

        path, _ = QFileDialog.getOpenFileName(self, "Open a recording", "", "Recordings (*.npz)")
        if not path:
            return
        try:
            self.show_recording(Recording.load(path), f"Recording {Path(path).name}")
            self._show_dock(self.dynamics_dock)
        except UserError as exc:
            show_error(self, "Could not open the recording", str(exc))

    # ---- opening ---------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return bool(self.runner.active)

    def open_paths(self, paths) -> None:
        for path in paths:
            self.open_path(Path(path))

    def open_path(self, path: Path, series_uid: str | None = None) -> None:
        """Open a file or DICOM folder in the background; errors end in one dialog."""
        path = Path(path)
        if path.is_dir() and series_uid is None:
            self.runner.run(
                f"Reading {path.name}", lambda progress, _c: list_series(path, progress),
                on_success=lambda series: self._on_series_listed(path, series),
                on_failure=lambda message: self._fail_open(path, message),
            )
            return
        self.runner.run(
            f"Opening {path.name}", lambda progress, _c: load(path, series_uid=series_uid, progress=progress),
            on_success=lambda volume: self._on_scan_loaded(path, volume),
            on_failure=lambda message: self._fail_open(path, message),
        )

    def _on_series_listed(self, folder: Path, series) -> None:
        uid = series[0].uid if len(series) == 1 else choose_series(series, folder.name, self)
        if uid is not None:
            self.open_path(folder, series_uid=uid)

    def _fail_open(self, path: Path, message: str) -> None:
        show_error(self, f"Could not open {path.name}", message)

    def _on_scan_loaded(self, path: Path, volume: Volume) -> None:
        scan = self.session.add_scan(volume, path)
        if volume.warnings:
            show_warning(self, f"Opened {path.name} with changes", " ".join(volume.warnings))
        label_path = find_label_for(path)
        if label_path is not None:
            answer = QMessageBox.question(
                self, "Label found", f"{label_path.name} lies beside {path.name}. Show it as a coloured overlay?"
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.open_label(label_path, scan)

    def open_sample(self, volume: Volume) -> None:
        """A dataset sample replaces the previous one (the gallery is for browsing)."""
        if self._sample_scan is not None:
            self.session.remove_scan(self._sample_scan)
        self._sample_scan = self.session.add_scan(volume)

    def open_label(self, path: Path, scan: OpenScan | None = None) -> None:
        scan = scan or self.session.current
        if scan is None:
            show_error(self, "No scan open", "Open a scan first, then its label file.")
            return
        self.runner.run(
            f"Opening label {Path(path).name}", lambda _p, _c: load_label(path, scan.volume),
            on_success=lambda label: self.session.set_label(scan, label),
            on_failure=lambda message: show_error(self, f"Could not overlay {Path(path).name}", message),
        )

    def close_current_scan(self) -> None:
        if self.session.current is not None:
            if self.session.current is self._sample_scan:
                self._sample_scan = None
            self.session.remove_scan(self.session.current)

    # ---- showing ---------------------------------------------------------------------------------
    def _show_scan(self, scan: OpenScan | None) -> None:
        self.inspector.set_scan(scan)
        if scan is None:
            self.stack.setCurrentWidget(self.welcome)
            self.image_view.set_volume(None)
            self.ortho_view.set_volume(None)
            return
        volume = scan.volume
        if volume.spatial_ndim == 3 and min(volume.spatial_shape) > 1:
            self.image_view.set_volume(None)
            self.ortho_view.set_volume(volume)
            self.stack.setCurrentWidget(self.ortho_view)
            self.render_box.setCurrentText(self.ortho_view.volume_view.preset)
        else:
            self.ortho_view.set_volume(None)
            self.image_view.set_volume(volume, view=None if volume.is_2d else "axial")
            self.stack.setCurrentWidget(self.image_view)
        self._fill_presets(volume)
        self.colormap_box.setEnabled(not volume.is_rgb)
        self.set_colormap(self.colormap_box.currentText())
        self._show_label(scan)
        self.setWindowTitle(f"SpikeView — {scan.title}")

    def _show_label(self, scan: OpenScan) -> None:
        if scan is not self.session.current:
            return
        self.current_view().set_label(scan.label, scan.label_opacity)
        self.opacity_slider.blockSignals(True)
        self.opacity_slider.setValue(round(scan.label_opacity * 100))
        self.opacity_slider.blockSignals(False)
        self.inspector.set_scan(scan)

    def current_view(self) -> SliceView | OrthoView:
        return self.ortho_view if self.stack.currentWidget() is self.ortho_view else self.image_view

    def _fill_presets(self, volume: Volume) -> None:
        presets = window_presets()
        names = [p.name for p in presets["auto"]]
        if volume.modality == "CT":
            names = [p.name for p in presets["CT"]] + names
        self.preset_box.clear()
        self.preset_box.addItems(names)
        self.preset_box.setEnabled(not volume.is_rgb)
        default = "Auto (1-99 %)"
        if volume.modality == "CT" and volume.intensity_range()[0] < -200:
            default = "Soft tissue"
        self.preset_box.setCurrentText(default)
        if not volume.is_rgb:
            self.apply_window_preset(default)

    def apply_window_preset(self, name: str) -> None:
        scan = self.session.current
        if scan is None or scan.volume.is_rgb:
            return
        preset = next((p for group in window_presets().values() for p in group if p.name == name), None)
        if preset is None:
            return
        if preset.is_auto:
            low, high = scan.volume.percentile_window(preset.low_percentile, preset.high_percentile)
        else:
            low, high = preset.level - preset.window / 2, preset.level + preset.window / 2
        self.current_view().set_levels(low, high)

    def set_colormap(self, name: str) -> None:
        self.image_view.set_colormap(name)
        self.ortho_view.set_colormap(name)

    def _on_opacity_changed(self, value: int) -> None:
        if self.session.current is not None:
            self.session.set_label_opacity(self.session.current, value / 100)

    def _show_cursor(self, voxel) -> None:
        scan = self.session.current
        if voxel is None or scan is None or not scan.volume.contains(voxel):
            self.cursor_label.setText("")
            return
        volume = scan.volume
        value = volume.value_at(voxel)
        value_text = ", ".join(f"{v:.5g}" for v in value) if isinstance(value, tuple) else f"{value:.5g}"
        position = ", ".join(f"{p:.1f}" for p in volume.world_position(voxel))
        text = f"voxel ({', '.join(map(str, voxel))}) = {value_text}    position ({position}) mm"
        if scan.label is not None:
            text += f"    label {int(scan.label.array[tuple(voxel)])}"
        self.cursor_label.setText(text)

    # ---- jobs ------------------------------------------------------------------------------------
    def _on_job_started(self, job: Job) -> None:
        job.progress.connect(lambda fraction: self.progress_bar.setValue(round(100 * fraction)))
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(f"{job.title} %p%")
        self.progress_bar.show()
        self.statusBar().showMessage(job.title + "…")

    def _on_job_finished(self, _job: Job) -> None:
        if not self.runner.active:
            self.progress_bar.hide()
            self.statusBar().clearMessage()

    # ---- menu actions ----------------------------------------------------------------------------
    def ask_open_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open scans", "", FILE_FILTER)
        self.open_paths(paths)

    def ask_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a DICOM folder")
        if folder:
            self.open_path(Path(folder))

    def ask_open_label(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a label / mask file", "", FILE_FILTER)
        if path:
            self.open_label(Path(path))

    def ask_data_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with MedMNIST .npz files", str(self.session.data_root))
        if folder:
            self.session.set_data_root(Path(folder))

    def ask_save_screenshot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "spikeview.png", "PNG (*.png)")
        if path:
            self.screenshot().save(path)

    def _rebuild_recent_menu(self, paths: list[Path]) -> None:
        self.recent_menu.clear()
        for path in paths:
            self._action(self.recent_menu, str(path), lambda _checked=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(paths))

    # ---- drag and drop ---------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        self.open_paths(paths)
        event.acceptProposedAction()

    # ---- screenshot ------------------------------------------------------------------------------
    def screenshot(self) -> QImage:
        """The window as an image, with the VTK rendering painted in (grab() leaves it black)."""
        image = self.grab().toImage()
        volume_view = self.ortho_view.volume_view
        if self.stack.currentWidget() is self.ortho_view and volume_view.available and volume_view.isVisible():
            frame = volume_view.capture()
            if frame is not None:
                height, width = frame.shape[:2]
                rendered = QImage(frame.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
                ratio = image.devicePixelRatio()
                rendered.setDevicePixelRatio(ratio * width / max(1, volume_view.vtk_widget.width() * ratio))
                painter = QPainter(image)
                painter.drawImage(volume_view.vtk_widget.mapTo(self, QPoint(0, 0)), rendered)
                painter.end()
        return image

    def closeEvent(self, event) -> None:  # noqa: N802
        self.runner.cancel_all()
        self.runner.wait(5000)
        self.ortho_view.volume_view.close()
        if self.dynamics.attention.volume_3d is not None:
            self.dynamics.attention.volume_3d.close()
        super().closeEvent(event)
