"""Optuna: a real SQLite database that resumes an interrupted study, and two workers on one study."""
from __future__ import annotations

from dataclasses import replace

import optuna
import pytest
from optuna.trial import TrialState

from engine.snndeep.config import DataConfig, SampleConfig
from engine.snndeep.tune import TuneSettings, create_study, default_storage, open_storage, study_name, tune_combination


@pytest.fixture()
def feature_task(msd_dir) -> DataConfig:
    return DataConfig("msd", str(msd_dir), samples=SampleConfig(mode="features"))


def _trials(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=open_storage(storage)).get_trials()


def test_interrupted_study_resumes_from_its_sqlite_file(feature_task, tmp_path):
    settings = TuneSettings(default_storage(tmp_path), trials=2, epochs=2)
    name = study_name(feature_task.key, "custom", "tempotron")
    first = tune_combination(feature_task, "custom", "tempotron", settings)
    assert (tmp_path / "optuna.db").is_file()
    assert first["complete"] + first["pruned"] == 2
    before = {t.number: t.params for t in _trials(settings.storage, name)}
    # a worker killed mid-trial leaves a RUNNING trial behind
    create_study(settings.storage, name, seed=0).ask()
    resumed = tune_combination(feature_task, "custom", "tempotron", replace(settings, trials=4))
    trials = _trials(settings.storage, name)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 4 and resumed["trials"] == 5
    assert {t.number: t.params for t in trials if t.number in before} == before  # old trials kept, not redone
    assert resumed["best_params"]


def test_two_workers_share_one_study(feature_task, tmp_path):
    settings = TuneSettings(default_storage(tmp_path), trials=8, workers=2, epochs=2)
    summary = tune_combination(feature_task, "custom", "tempotron", settings)
    trials = _trials(settings.storage, study_name(feature_task.key, "custom", "tempotron"))
    assert summary["complete"] + summary["pruned"] >= 8
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    pids = {t.user_attrs.get("worker_pid") or t.system_attrs.get("worker_pid") for t in finished}
    assert len(pids - {None}) == 2  # both processes wrote trials into the one database
