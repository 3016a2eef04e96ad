"""The main window: composition only. It makes the session, the controllers, the panels and the views,
puts them in docks, menus, a toolbar and a status bar, and connects what one says to what another
does; dialogs answer the controllers' questions and show their errors.

Start-up: nothing here imports torch. The window paints first; then the engine starts in the
background (`controllers.engine`), the status bar saying so, and the training form, the runs list
and the recent runs fill in when it is ready. The layout follows the task: the viewer gets the room
when a scan opens, the training or dynamics dock when a run starts or a recording opens; the user's
own layout, data folder and recent runs come back at the next start (QSettings).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QImage, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QToolButton, QWidget,
)

from spikeview import RESEARCH_NOTICE
from spikeview.controllers.engine import EngineController
from spikeview.controllers.files import FilesController, default_data_root, scan_file_filter
from spikeview.controllers.inference import InferenceController
from spikeview.controllers.runs import RunsController
from spikeview.controllers.study import StudyController
from spikeview.controllers.training import TrainingController
from spikeview.jobs import Job, JobRunner
from spikeview.logs import log_startup
from spikeview.panels.dataset_browser import DatasetBrowser
from spikeview.panels.display_toolbar import DisplayToolbar
from spikeview.panels.inference import InferencePanel
from spikeview.panels.runs_list import RunsList
from spikeview.panels.snndeep import SnnDeepPanel
from spikeview.panels.training import TrainingPanel
from spikeview.resources import window_presets
from spikeview.session import OpenScan, Session
from spikeview.views.dialogs import choose_series, show_about, show_error, show_warning
from spikeview.views.dynamics_view import DynamicsView
from spikeview.views.inspector import Inspector
from spikeview.views.layouts import scroll_when_short
from spikeview.views.scan_view import ScanView
from spikeview.views.volume_view import grab_with_renderings


WELCOME = (
    "<h2>SpikeView</h2><p>Open a scan with <b>File ▸ Open</b>, drop files here,"
    " or pick a dataset on the left.</p><p>NIfTI · DICOM · NRRD · PNG/JPEG · NumPy · MedMNIST</p>"
    "<p>New here? <a href='sample' style='color:#8ab4f8'>Open the sample scan</a>, a phantom volume;"
    " the sample model in <b>Runs</b> classifies it.</p>"
    f"<p style='color:#fbbc04'>{RESEARCH_NOTICE}</p>"
)
ENGINE_STARTING = "Starting the engine (torch, SpikingJelly)… scans open meanwhile."
VIEWER_SHARE, TASK_SHARE = 0.28, 0.5  # the bottom docks' height: when a scan opens, when a run starts
LAYOUT_VERSION = 2  # restoreState refuses a layout saved by a window with other docks


class MainWindow(QMainWindow):
    def __init__(self, session: Session | None = None, runner: JobRunner | None = None,
                 data_root: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("SpikeView")
        self.resize(1400, 900)
        self.session = session or Session(data_root or Session.remembered_data_root() or default_data_root())
        self.runner = runner or JobRunner(parent=self)
        self.engine = EngineController(self.runner, self)
        self.files = FilesController(self.session, self.runner, self)
        self.runs = RunsController(self.session, self.runner, self)
        self.training = TrainingController(self.session, self.runner, self)
        self.inference = InferenceController(self.session, self.runner, self)
        self.study = StudyController(self.session, self.runner, self)
        presets = window_presets()  # read once, at start-up
        self.scan_view = ScanView(self.session, presets, WELCOME)
        self.setCentralWidget(self.scan_view)
        self._build_docks()
        self.toolbar = DisplayToolbar(self.session, presets)
        self.addToolBar(self.toolbar)
        self._build_menus()
        self._build_status_bar()
        self._connect()
        self.setAcceptDrops(True)
        self._painted = False
        self._restore_layout()
        self.files.list_datasets()
        QTimer.singleShot(1500, self._start_engine)  # if no paint comes first (a window never shown)

    @property
    def engine_ready(self) -> bool:
        return self.engine.is_ready

    # ---- construction ----------------------------------------------------------------------------
    def _build_docks(self) -> None:
        """Browser and runs on the left, the inspector on the right; training, inference, spike
        dynamics and the SNNDeep study tabbed along the bottom."""
        left, right, bottom = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                               Qt.DockWidgetArea.BottomDockWidgetArea)
        self.browser = DatasetBrowser(self.session, self.files)
        self.inspector = Inspector(self.session)
        self.runs_list = RunsList(self.session, self.runs)
        self.training_panel = TrainingPanel(self.session, self.training)
        self.inference_panel = InferencePanel(self.session, self.inference)
        self.dynamics = DynamicsView(self.session)
        self.snndeep_panel = SnnDeepPanel(self.session, self.study)
        self.browser_dock = self._dock("Browser", self.browser, left)
        self.inspector_dock = self._dock("Inspector", self.inspector, right)
        self.runs_dock = self._tab_after(self.browser_dock, "Runs", self.runs_list)
        self.browser_dock.raise_()
        self.training_dock = self._dock("Training", self.training_panel, bottom)
        self.inference_dock = self._tab_after(self.training_dock, "Inference", self.inference_panel)
        self.dynamics_dock = self._tab_after(self.inference_dock, "Spike dynamics", self.dynamics)
        self.snndeep_dock = self._tab_after(self.dynamics_dock, "SNNDeep study", self.snndeep_panel)
        self.training_dock.raise_()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """`widget` in a dock; along the bottom inside a scroll area, so that the docks tabbed there
        can be made as short as the user likes (the tallest form would set their least height)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(scroll_when_short(widget) if area == Qt.DockWidgetArea.BottomDockWidgetArea else widget)
        self.addDockWidget(area, dock)
        dock.setMinimumWidth(300)
        return dock

    def _tab_after(self, neighbour: QDockWidget, title: str, widget: QWidget) -> QDockWidget:
        """A dock tabbed with `neighbour` at once (docks laid side by side first would leave the sum of
        their minimum widths on the window)."""
        dock = self._dock(title, widget, self.dockWidgetArea(neighbour))
        self.tabifyDockWidget(neighbour, dock)
        return dock

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
        self._action(file_menu, "Open &Label Overlay…", self.ask_open_label)
        self._action(file_menu, "Open &Sample Scan", self.files.open_sample_scan)
        self.resample_action = self._action(file_menu, "Reopen Resa&mpled",
                                            lambda: self.files.reopen_resampled(self.session.current))
        self.resample_action.setEnabled(False)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addSeparator()
        self._action(file_menu, "Choose &Data Folder…", self.ask_data_root)
        self._action(file_menu, "Save &Screenshot…", self.ask_save_screenshot)
        self._action(file_menu, "&Close Scan", self.files.close_current_scan, QKeySequence.StandardKey.Close)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        view_menu = self.menuBar().addMenu("&View")
        for dock in (self.browser_dock, self.inspector_dock, self.runs_dock, self.training_dock,
                     self.inference_dock, self.dynamics_dock, self.snndeep_dock):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        self._action(view_menu, "Give the &Viewer the Room", lambda: self._share_bottom(VIEWER_SHARE, shrink_only=False))
        run_menu = self.menuBar().addMenu("&Run")
        self._action(run_menu, "&Train…", lambda: self._show_dock(self.training_dock))
        self._action(run_menu, "&Inference…", lambda: self._show_dock(self.inference_dock))
        self.recent_runs_menu = run_menu.addMenu("Recent R&uns")
        self._action(run_menu, "Open &Recording…", self.ask_open_recording)
        self._action(run_menu, "Save Recording…", self.dynamics.ask_save_recording)
        self._action(run_menu, "Save Metrics CSV…", self.training_panel.ask_export_csv)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About SpikeView", lambda: show_about(self))
        self._rebuild_recent_menu(self.session.recent_files())
        self._rebuild_recent_runs_menu(self.session.recent_runs())

    def _build_status_bar(self) -> None:
        self.notice_label = QLabel(RESEARCH_NOTICE)
        self.notice_label.setObjectName("researchNotice")
        self.cursor_label = QLabel("")
        self.engine_label = QLabel(ENGINE_STARTING)
        self.engine_label.setObjectName("engineState")
        self.job_label = QLabel("")  # the work the progress bar shows (a status message would hide the readout)
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(160)
        self.progress_bar.setRange(0, 100)
        self.progress_bar.hide()
        self.cancel_job_button = QToolButton()
        self.cancel_job_button.setText("Cancel")
        self.cancel_job_button.setToolTip("Stop the work shown beside (a scan being read, a study...)")
        self.cancel_job_button.clicked.connect(self.cancel_shown_job)
        self.cancel_job_button.hide()
        self.shown_job: Job | None = None  # the job the progress bar follows
        bar = self.statusBar()
        bar.addWidget(self.cursor_label, 1)
        bar.addPermanentWidget(self.engine_label)
        bar.addPermanentWidget(self.job_label)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_job_button)
        bar.addPermanentWidget(self.notice_label)

    def _connect(self) -> None:
        self.session.current_changed.connect(self._show_title)
        self.session.scan_added.connect(lambda _scan: self._share_bottom(VIEWER_SHARE, shrink_only=True))
        self.session.recent_changed.connect(self._rebuild_recent_menu)
        self.session.recent_runs_changed.connect(self._rebuild_recent_runs_menu)
        self.scan_view.cursor_text.connect(self.cursor_label.setText)
        self.scan_view.link_activated.connect(lambda _link: self.files.open_sample_scan())
        self.toolbar.preset_chosen.connect(self.scan_view.apply_window_preset)
        self.toolbar.colormap_chosen.connect(self.scan_view.set_colormap)
        self.toolbar.render_chosen.connect(self.scan_view.set_render_preset)
        self.engine.ready.connect(self._on_engine_ready)
        self.engine.failed.connect(lambda message: show_error(self, "The engine did not start", message))
        self.files.failed.connect(lambda title, message: show_error(self, title, message))
        self.files.warned.connect(lambda title, message: show_warning(self, title, message))
        self.files.series_found.connect(self._choose_series)
        self.files.label_found.connect(self._offer_label)
        self.files.resample_offered.connect(self._offer_resample)
        self.session.current_changed.connect(lambda _scan: self._update_resample_action())
        self.files.recording_opened.connect(lambda: self._give_room_to(self.dynamics_dock))
        self.training.started.connect(lambda _info: self._give_room_to(self.training_dock))
        self.training.run_ended.connect(lambda path, _state, _summary: self.runs.refresh(select=path))
        self.training.run_unreadable.connect(lambda message: show_error(self, "Could not open the run", message))
        self.inference.finished.connect(lambda _outcome: self._give_room_to(self.dynamics_dock))
        self.dynamics.save_recording_requested.connect(self.files.save_recording)
        self.dynamics.export_failed.connect(lambda message: show_error(self, "Nothing to export", message))
        for signal, title in ((self.training.failed, "Training"), (self.inference.failed, "Inference"),
                              (self.snndeep_panel.error, "The SNNDeep study")):
            signal.connect(lambda message, t=title: show_error(self, f"{t} did not complete", message))
        self.runner.job_started.connect(self._on_job_started)
        self.runner.job_finished.connect(self._on_job_finished)

    # ---- start-up --------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            log_startup("window painted")
            QTimer.singleShot(0, self._start_engine)  # after this paint reached the screen

    def _start_engine(self) -> None:
        if self.engine.job is None:
            self.engine.start()

    def _on_engine_ready(self, _seconds: float) -> None:
        log_startup("engine ready")
        self.engine_label.hide()
        self.training.load_choices()
        self.runs.refresh(select=self._last_run())

    def _last_run(self) -> Path | None:
        """The run chosen last time, when it is in the runs folder listed now."""
        recent = self.session.recent_runs()
        if recent and recent[0].parent.resolve() == self.session.runs_folder.resolve():
            return recent[0]
        return None

    # ---- what the controllers ask ------------------------------------------------------------------
    def _choose_series(self, folder: Path, series: list) -> None:
        uid = choose_series(series, folder.name, self)
        if uid is not None:
            self.files.open_path(folder, series_uid=uid)

    def _offer_label(self, scan: OpenScan, label_path: Path) -> None:
        source = scan.source.name if scan.source else scan.title
        answer = QMessageBox.question(
            self, "Label found", f"{label_path.name} lies beside {source}. Show it as a coloured overlay?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.files.open_label(label_path, scan)

    def _offer_resample(self, scan: OpenScan, warnings: str) -> None:
        """The choice the big viewers offer for uneven geometry: keep it as stored, or resample it."""
        answer = QMessageBox.question(
            self, "Uneven slice geometry", f"{warnings}\n\nReopen {scan.title} resampled onto an even, straight "
                                           "grid? (File ▸ Reopen Resampled does it later.)")
        if answer == QMessageBox.StandardButton.Yes:
            self.files.reopen_resampled(scan)
        self._update_resample_action()

    def _update_resample_action(self) -> None:
        self.resample_action.setEnabled(self.files.can_resample(self.session.current))

    def _show_title(self, scan: OpenScan | None) -> None:
        self.setWindowTitle(f"SpikeView — {scan.title}" if scan is not None else "SpikeView")

    def _show_dock(self, dock: QDockWidget) -> None:
        dock.show()
        dock.raise_()

    # ---- layout for the task ---------------------------------------------------------------------
    def _bottom_docks(self) -> list[QDockWidget]:
        return [d for d in (self.training_dock, self.inference_dock, self.dynamics_dock, self.snndeep_dock)
                if d.isVisible() and self.dockWidgetArea(d) == Qt.DockWidgetArea.BottomDockWidgetArea]

    def _share_bottom(self, share: float, shrink_only: bool = False, grow_only: bool = False) -> None:
        """Make the bottom docks `share` of the window's height (only when that shrinks or grows them)."""
        docks = self._bottom_docks()
        if not docks:
            return
        height, wanted = docks[0].height(), round(share * self.height())
        if (shrink_only and height <= wanted) or (grow_only and height >= wanted):
            return
        self.resizeDocks(docks[:1], [wanted], Qt.Orientation.Vertical)

    def _give_room_to(self, dock: QDockWidget) -> None:
        """A run started or a recording opened: show its dock, at least half the window high."""
        self._show_dock(dock)
        self._share_bottom(TASK_SHARE, grow_only=True)

    def _restore_layout(self) -> None:
        settings = QSettings()
        geometry, state = settings.value("window/geometry"), settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is None or not self.restoreState(state, LAYOUT_VERSION):
            QTimer.singleShot(0, lambda: self._share_bottom(VIEWER_SHARE, shrink_only=True))

    def _save_layout(self) -> None:
        settings = QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState(LAYOUT_VERSION))

    # ---- opening ---------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.files.busy

    def open_paths(self, paths) -> None:
        self.files.open_paths(paths)

    def ask_open_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open scans", "", scan_file_filter())
        self.open_paths(paths)

    def ask_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a DICOM folder")
        if folder:
            self.files.open_path(Path(folder))

    def ask_open_label(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a label / mask file", "", scan_file_filter())
        if path:
            self.files.open_label(Path(path))

    def ask_open_recording(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a recording", "", "Recordings (*.npz)")
        if path:
            self.files.open_recording(Path(path))

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
            self._action(self.recent_menu, str(path), lambda _checked=False, p=path: self.files.open_path(p))
        self.recent_menu.setEnabled(bool(paths))

    def _rebuild_recent_runs_menu(self, paths: list[Path]) -> None:
        self.recent_runs_menu.clear()
        for path in paths:
            self._action(self.recent_runs_menu, str(path), lambda _checked=False, p=path: self.session.set_run(p))
        self.recent_runs_menu.setEnabled(bool(paths))

    # ---- drag and drop ---------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        self.open_paths(paths)
        event.acceptProposedAction()

    # ---- jobs ------------------------------------------------------------------------------------
    def _on_job_started(self, job: Job) -> None:
        if job is self.engine.job:
            return  # the engine label says it starts; the bar is for work the user asked for
        job.progress.connect(lambda fraction: self._show_progress(job, fraction))
        self._follow_job(job)
        self.progress_bar.setValue(0)
        self.progress_bar.show()

    def _follow_job(self, job: Job | None) -> None:
        """The progress bar and its Cancel button follow `job` (the latest one started)."""
        self.shown_job = job
        if job is not None:  # the title in the label beside, the number in the bar
            self.progress_bar.setFormat("%p%")
            self.job_label.setText(job.title + "…")
        self.cancel_job_button.setVisible(job is not None and job.cancellable)

    def _show_progress(self, job: Job, fraction: float) -> None:
        if job is self.shown_job:
            self.progress_bar.setValue(round(100 * fraction))

    def _on_job_finished(self, job: Job) -> None:
        others = [j for j in self.runner.active if j is not self.engine.job]
        if job is self.shown_job:
            self._follow_job(others[-1] if others else None)
        if not others:
            self.progress_bar.hide()
            self.job_label.setText("")

    def cancel_shown_job(self) -> None:
        """Cancel the job the status bar shows (a long DICOM read stops at its next slice)."""
        if self.shown_job is not None and self.shown_job.cancellable:
            self.shown_job.cancel()
            self.progress_bar.setFormat(f"cancelling {self.shown_job.title}…")

    # ---- screenshot ------------------------------------------------------------------------------
    def screenshot(self) -> QImage:
        """The window as an image, with the VTK renderings painted in (grab() leaves them black)."""
        return grab_with_renderings(self)

    def closeEvent(self, event) -> None:  # noqa: N802
        self._save_layout()
        self.runner.cancel_all()
        self.runner.wait(5000)
        self.scan_view.ortho_view.volume_view.close()
        if self.dynamics.attention.volume_3d is not None:
            self.dynamics.attention.volume_3d.close()
        super().closeEvent(event)
