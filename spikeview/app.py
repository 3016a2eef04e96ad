"""`spikeview [FILE ...]`: the desktop app's entry point (also `--self-test` for installations)."""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def create_application(argv: list[str] | None = None):
    """The QApplication (reused when one exists), named so QSettings has a home."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from spikeview.resources import icon_path, style_sheet

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName("SpikeView")
    app.setApplicationName("SpikeView")
    app.setDesktopFileName("spikeview")  # matches the installed spikeview.desktop (taskbar icon)
    app.setWindowIcon(QIcon(str(icon_path())))
    app.setStyleSheet(style_sheet())
    return app


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spikeview", description="Browse medical scans and MedMNIST datasets.")
    parser.add_argument("paths", nargs="*", type=Path, help="scan files or DICOM folders to open")
    parser.add_argument("--data-root", type=Path, default=None, help="folder with MedMNIST .npz files")
    parser.add_argument("--self-test", action="store_true",
                        help="check every part of this installation, print one JSON object, exit 0 or 1")
    parser.add_argument("--self-test-part", choices=("qt", "vtk", "app"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _route_qt_messages_to_log() -> None:
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    levels = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}
    qt_log = logging.getLogger("qt")
    qInstallMessageHandler(lambda kind, _context, message: qt_log.log(levels.get(kind, logging.WARNING), message))


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # the frozen app starts SNNDeep/Optuna worker processes
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test_part:
        from spikeview.selftest import run_child_check

        return run_child_check(args.self_test_part)
    if args.self_test:
        from spikeview.selftest import main as self_test

        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return self_test()
    from engine.device import configure_threads
    from spikeview.logs import setup_logging

    log_path = setup_logging()
    configure_threads()  # before torch is imported: the GUI thread keeps a core (engine.device)
    app = create_application()
    _route_qt_messages_to_log()
    log.info("SpikeView started; log file %s", log_path)
    from spikeview.main_window import MainWindow  # after QApplication: VTK/Qt widgets need it

    window = MainWindow(data_root=args.data_root)
    window.show()
    window.open_paths(args.paths)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
