"""Every bad run of the corpus (tests/engine/bad_inputs.py: damaged run folders and checkpoints, a newer
run format, a folder in use, an unwritable folder, a full disk) is one dialog in the app, with the
engine's own sentence, and the app lives on; a damaged run is listed as unreadable, saying why."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from engine.errors import UserError
from engine.options import TrainConfig
from engine.runs.rundir import RunDir
from spikeview.controllers.inference import SOURCE_DATASET
from waiting import wait_idle as _idle

pytestmark = pytest.mark.gui

_spec = importlib.util.spec_from_file_location("spikeview_tests_bad_inputs",
                                               Path(__file__).resolve().parents[1] / "engine" / "bad_inputs.py")
bad_inputs = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(bad_inputs)


@pytest.fixture
def materials(tmp_path: Path, volumes_dir: Path, medmnist_root: Path, dicom_writer, trained_run: Path):
    (tmp_path / "input").mkdir()
    return bad_inputs.Materials(tmp_path / "input", volumes_dir, medmnist_root, dicom_writer, trained_run)



def _engine_sentence(case, path: Path, materials) -> str:
    with case.within(path, materials), pytest.raises(UserError) as caught:
        case.call(path, materials)
    return str(caught.value)


@pytest.mark.parametrize("case", bad_inputs.RUN_FOLDERS, ids=[case.name for case in bad_inputs.RUN_FOLDERS])
def test_a_damaged_run_is_one_dialog_when_chosen_and_when_used(case, materials, qtbot, window, dialogs) -> None:
    path = case.make(materials)
    message = _engine_sentence(case, path, materials)
    _idle(qtbot, window)
    window.session.set_runs_folder(path.parent)
    _idle(qtbot, window)
    listed = {run.name: run for run in window.runs_list.runs}
    unreadable = path.name in listed and listed[path.name].state == "unreadable"
    window.session.set_run(path)  # as choosing it in the runs list does
    _idle(qtbot, window)
    if unreadable:  # its config.json is damaged: the list says why, and choosing it says so once
        assert listed[path.name].problem == message and dialogs.errors == [message]
    else:  # its checkpoint is damaged (only inference reads it), or it is not a run at all
        assert dialogs.errors in ([], [message]), dialogs.errors
    chosen = len(dialogs.errors)
    window.inference_panel.start(SOURCE_DATASET)
    _idle(qtbot, window)
    assert dialogs.errors[chosen:] == [message], "inference says the same one sentence"
    assert window.isVisible()


def _resume(window, path: Path) -> None:
    config = RunDir(path).train_config()
    config.epochs = 2
    window.training.resume(path, config)


def _start_in(window, path: Path) -> None:
    window.training.start(TrainConfig(dataset="phantom2d", epochs=1, train_limit=50, device="cpu"), path / "run")


APP_ACTIONS = {"unwritable output folder": _start_in}


@pytest.mark.parametrize("case", bad_inputs.RUN_WRITES, ids=[case.name for case in bad_inputs.RUN_WRITES])
def test_a_training_that_cannot_write_is_one_dialog(case, materials, qtbot, window, dialogs) -> None:
    path = case.make(materials)
    message = _engine_sentence(case, path, materials)
    _idle(qtbot, window)
    with case.within(path, materials):
        with qtbot.waitSignal(window.training.run_ended, timeout=90000) as ended:
            APP_ACTIONS.get(case.name, _resume)(window, path)
        _idle(qtbot, window)
    assert ended.args[1] == "failed" and dialogs.errors == [message], dialogs.errors
    assert window.isVisible() and not window.training.running
