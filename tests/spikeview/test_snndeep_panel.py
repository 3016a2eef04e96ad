"""The SNNDeep study from the app: settings, a real (tiny) study in the background, the report."""
from __future__ import annotations

from pathlib import Path

import pytest

from spikeview.controllers.study import StudyController
from spikeview.jobs import JobRunner
from spikeview.panels.snndeep import SnnDeepPanel
from spikeview.session import Session

pytestmark = pytest.mark.gui
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def panel(qtbot, medmnist_root, tmp_path):
    session = Session(data_root=medmnist_root)
    widget = SnnDeepPanel(session, StudyController(session, JobRunner()))
    qtbot.addWidget(widget)
    widget.study_dir.edit.setText(str(tmp_path / "study"))
    widget.trials.setValue(1)
    widget.folds.setValue(2)
    widget.epochs.setValue(1)
    widget.max_train.setValue(120)
    widget.max_test.setValue(120)
    widget.bench.setChecked(False)
    return widget


def test_the_published_report_renders_with_its_tables(qtbot, panel):
    with qtbot.waitSignal(panel.report_shown):
        panel.show_report(REPO / "docs" / "snndeep" / "README.md")
    text = panel.report.toPlainText()
    assert "SNNDeep" in text and "organamnist" in text and "98.35" in text


def test_no_data_is_one_sentence(qtbot, panel):
    for field in (panel.volumes, panel.msd, panel.medmnist):
        field.edit.clear()
    with qtbot.waitSignal(panel.error) as error:
        assert panel.start() is None
    assert error.args[0].startswith("The study needs data")


@pytest.mark.slow
def test_a_study_runs_in_the_background_and_shows_its_report(qtbot, panel, tmp_path):
    with qtbot.waitSignal(panel.report_shown, timeout=900_000) as shown:
        panel.start()
        assert not panel.start_button.isEnabled()
    report = shown.args[0]
    assert report == tmp_path / "study" / "report" / "README.md" and report.is_file()
    assert (tmp_path / "study" / "optuna.db").exists() or list((tmp_path / "study").glob("*.db"))
    assert "bptt" in panel.report.toPlainText() and panel.progress.value() == 100
    assert panel.start_button.isEnabled()


def test_cancel_stops_after_the_current_step(qtbot, panel):
    job = panel.start()
    with qtbot.waitSignal(job.cancelled_, timeout=600_000):
        panel.cancel()
    assert panel.start_button.isEnabled() and "cancelled" in panel.status.text()
