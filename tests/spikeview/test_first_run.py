"""A first-time user with no data: the built-in phantoms to browse, the sample scan one click away,
and the sample model in the runs list classifying it."""
from __future__ import annotations

from pathlib import Path

import pytest

from spikeview.resources import sample_run_path

pytestmark = pytest.mark.gui


@pytest.fixture
def fresh_window(qtbot, tmp_path, dialogs):
    from spikeview.main_window import MainWindow

    main = MainWindow(data_root=tmp_path / "no-data")
    qtbot.addWidget(main)
    main.show()
    yield main
    main.runner.cancel_all()
    main.runner.wait(10000)


def _idle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.runner.active, timeout=60000)


def test_phantoms_are_offered_without_any_file(qtbot, fresh_window):
    browser = fresh_window.browser
    qtbot.waitUntil(lambda: bool(browser.files), timeout=30000)
    assert [f.title for f in browser.files] == ["phantom2d (built in)", "phantom3d (built in)"]
    assert "no MedMNIST files" in browser.datasets_item.text(0)
    browser.open_dataset(browser.files[1], "val")
    qtbot.waitUntil(lambda: browser.model.images is not None, timeout=30000)
    assert browser.count_label.text() == "75 of 75 samples"


def test_sample_scan_and_sample_model(qtbot, fresh_window, dialogs):
    window = fresh_window
    window.scan_view.welcome.linkActivated.emit("sample")  # the welcome page's "Open the sample scan"
    _idle(qtbot, window)
    assert window.session.current is not None and window.session.current.title == "sample_phantom"
    assert window.windowTitle() == "SpikeView — sample_phantom"
    runs = window.runs_list
    qtbot.waitUntil(lambda: runs.tree.topLevelItemCount() == 1, timeout=30000)
    assert runs.tree.topLevelItem(0).text(0) == "sample model (ships with SpikeView)"
    runs.tree.setCurrentItem(runs.tree.topLevelItem(0))
    assert Path(window.session.run) == sample_run_path()
    assert dialogs.errors == []
