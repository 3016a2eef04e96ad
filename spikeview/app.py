"""`spikeview [FILE ...]`: the desktop app's entry point."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from spikeview.resources import style_sheet

log = logging.getLogger(__name__)


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (reused when one exists), named so QSettings has a home."""
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName("SpikeView")
    app.setApplicationName("SpikeView")
    app.setStyleSheet(style_sheet())
    return app


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spikeview", description="Browse medical scans and MedMNIST datasets.")
    parser.add_argument("paths", nargs="*", type=Path, help="scan files or DICOM folders to open")
    parser.add_argument("--data-root", type=Path, default=None, help="folder with MedMNIST .npz files")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = create_application()
    from spikeview.main_window import MainWindow  # after QApplication: VTK/Qt widgets need it

    window = MainWindow(data_root=args.data_root)
    window.show()
    window.open_paths(args.paths)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
