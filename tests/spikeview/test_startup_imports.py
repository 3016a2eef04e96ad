"""The window comes before the engine: making the main window imports none of torch, SpikingJelly or the
scan readers (they load in the background once it has painted; see controllers/engine.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("torch", "spikingjelly", "pydicom", "nibabel", "vtkmodules", "scipy")

PROGRAM = f"""
import json, sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from spikeview.main_window import MainWindow
window = MainWindow()
print(json.dumps(sorted({{name.split('.')[0] for name in sys.modules}} & set({HEAVY!r}))))
"""


def test_making_the_window_imports_no_heavy_module(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


JOBS_PROGRAM = """
import json, sys
from PySide6.QtCore import QCoreApplication
app = QCoreApplication([])
from spikeview.jobs import JobRunner
runner, seen = JobRunner(), {}
runner.run("light", lambda _p, _c: seen.update(light="torch" in sys.modules), needs_torch=False)
runner.wait(10000)
runner.run("engine work", lambda _p, _c: seen.update(engine="torch" in sys.modules))
runner.wait(60000)
print(json.dumps(seen))
"""


def test_jobs_take_torch_from_one_importer(tmp_path):
    """A job that may touch torch finds it imported (under the one lock) before its work starts; a job
    that needs none (opening a scan) does not wait for it."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", JOBS_PROGRAM], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"light": False, "engine": True}
