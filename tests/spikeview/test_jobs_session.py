"""jobs.Job / JobRunner and the Session, without windows."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from engine.errors import UserError
from engine.io import Volume
from spikeview.jobs import Job, JobCancelled, JobRunner
from spikeview.session import Session


def _run(qtbot, runner: JobRunner, job: Job) -> list:
    events: list = []
    job.progress.connect(lambda f: events.append(("progress", f)))
    job.succeeded.connect(lambda r: events.append(("ok", r)))
    job.failed.connect(lambda m: events.append(("failed", m)))
    job.cancelled_.connect(lambda: events.append(("cancelled", None)))
    with qtbot.waitSignal(job.finished, timeout=10000):
        runner.submit(job)
    return events


def test_job_reports_progress_and_result(qtbot) -> None:
    def work(progress, cancelled):
        for step in range(3):
            progress((step + 1) / 3)
        return 42

    events = _run(qtbot, JobRunner(), Job("count", work))
    assert events[-1] == ("ok", 42)
    assert [e[1] for e in events if e[0] == "progress"] == [1 / 3, 2 / 3, 1.0]


def test_job_errors_become_messages(qtbot) -> None:
    def user_error(_p, _c):
        raise UserError("The scan is broken.")

    def bug(_p, _c):
        raise ZeroDivisionError("division by zero")

    runner = JobRunner()
    assert _run(qtbot, runner, Job("open", user_error))[-1] == ("failed", "The scan is broken.")
    message = _run(qtbot, runner, Job("train", bug))[-1][1]
    assert "train failed unexpectedly" in message and "ZeroDivisionError" in message


def test_job_can_be_cancelled(qtbot) -> None:
    def slow(_progress, cancelled):
        for _ in range(200):
            if cancelled():
                raise JobCancelled
            time.sleep(0.01)
        return "finished"

    runner = JobRunner()
    job = Job("slow", slow)
    events: list = []
    job.cancelled_.connect(lambda: events.append("cancelled"))
    with qtbot.waitSignal(job.finished, timeout=10000):
        runner.submit(job)
        job.cancel()
    qtbot.waitUntil(lambda: runner.active == [])
    assert events == ["cancelled"]


def test_session_tracks_scans_and_recent_files(qtbot, tmp_path: Path) -> None:
    session = Session(data_root=tmp_path)
    volume = Volume(array=np.zeros((4, 4, 4), np.int16), spacing=(1.0, 1.0, 1.0), name="a")
    with qtbot.waitSignals([session.scan_added, session.current_changed]):
        scan = session.add_scan(volume, tmp_path / "a.nii.gz")
    assert session.current is scan and scan.title == "a"
    assert session.recent_files()[0] == (tmp_path / "a.nii.gz").resolve()
    second = session.add_scan(Volume(array=np.zeros((2, 2)), spacing=(1.0, 1.0), name="b"))
    with qtbot.waitSignal(session.current_changed):
        session.remove_scan(second)
    assert session.current is scan
    with qtbot.waitSignal(session.label_changed):
        session.set_label_opacity(scan, 1.7)
    assert scan.label_opacity == 1.0
