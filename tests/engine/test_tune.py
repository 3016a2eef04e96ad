"""`spikeview-engine tune`: two worker processes share one study and resume it, on SQLite and on a real
PostgreSQL server; the best trial trains as a run."""
from __future__ import annotations

import json
from dataclasses import replace

import optuna
import pytest
from optuna.trial import TrialState

from engine.cli import main
from engine.errors import UserError
from engine.options import TrainConfig
from engine.runs.rundir import RunDir
from engine.studies import create_study, default_storage, open_storage
from engine.tune import SearchSettings, scaled_widths, search, trial_config

TINY = {"dims": [8, 16, 32], "heads": 2}


def _base(**changes) -> TrainConfig:
    values = dict(dataset="phantom2d", epochs=2, batch_size=50, train_limit=100, device="cpu", model_overrides=TINY)
    values.update(changes)
    return TrainConfig(**values)


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request, tmp_path) -> str:
    if request.param == "sqlite":
        return default_storage(tmp_path)
    return request.getfixturevalue("postgresql_server").create_database(f"tune_{tmp_path.name}".lower())


def _trials(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=open_storage(storage)).get_trials()


@pytest.mark.slow
def test_two_workers_share_one_study_and_resume(storage, tmp_path):
    settings = SearchSettings(tmp_path / "study", storage, "shared", trials=2, workers=2)
    first = search(_base(), settings)
    assert first["complete"] + first["pruned"] >= 2
    trials = _trials(storage, "shared")
    assert len({t.user_attrs["worker"] for t in trials}) == 2, "both processes wrote trials into the one study"
    before = {t.number: t.params for t in trials}
    create_study(storage, "shared", seed=0).ask()  # a worker killed mid-trial leaves a RUNNING trial behind

    resumed = search(_base(), replace(settings, trials=len(before) + 2))
    trials = _trials(storage, "shared")
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) >= len(before) + 2 and resumed["trials"] == len(trials)
    assert {t.number: t.params for t in trials if t.number in before} == before, "old trials kept, not redone"
    for trial in finished:  # every trial is a real run with its metrics
        rows = RunDir(trial.user_attrs["run_dir"]).read_metrics()
        assert rows and len(trial.intermediate_values) == len(rows)
        assert set(trial.params) == {"lr", "timesteps", "tau", "width", "augment_strength"}
    assert resumed["best_params"] and resumed["best_run"]


def test_a_trial_is_the_base_run_with_its_choices():
    params = {"lr": 3e-3, "timesteps": 6, "tau": 3.0, "width": 2.0, "augment_strength": 0.5}
    config = trial_config(_base(), params)
    assert (config.lr, config.timesteps, config.augment_strength) == (3e-3, 6, 0.5)
    assert config.model_overrides == {"dims": [16, 32, 64], "heads": 2, "tau": 3.0}
    assert config.dataset == "phantom2d" and config.batch_size == 50
    assert scaled_widths(TrainConfig(model="sdt_small"), 0.5) == [16, 32, 64]
    assert scaled_widths(TrainConfig(model="sdt_base"), 1.5) == [96, 192, 384]  # multiples of 8 heads


def test_tune_cli_trains_the_best_trial_as_a_run(tmp_path, capsys):
    args = ["tune", "--dataset", "phantom2d", "--epochs", "1", "--batch-size", "50", "--train-limit", "50",
            "--model-options", json.dumps(TINY), "--device", "cpu", "--study-dir", str(tmp_path), "--trials", "1"]
    assert main([*args, "--train-best", "--best-epochs", "2"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["complete"] == 1 and (tmp_path / "optuna.db").is_file()
    best = out["best_training"]
    assert best["status"] == "finished" and best["epochs"] == 2
    trained = RunDir(best["run_dir"]).read_config()["train"]
    assert trained["lr"] == out["best_params"]["lr"] and trained["timesteps"] == out["best_params"]["timesteps"]
    assert trained["model_overrides"]["tau"] == out["best_params"]["tau"]
    # the study is finished: running it again trains nothing new, and other settings are refused
    assert main(args) == 0 and json.loads(capsys.readouterr().out.strip().splitlines()[-1])["trials"] == 1
    assert main([*args[:-2], "--trials", "1", "--lr", "0.1"]) == 2
    assert "other settings (lr)" in capsys.readouterr().err


def test_postgresql_urls_use_the_installed_driver():
    from engine.studies import _with_driver

    assert _with_driver("postgresql://u@host/db") == "postgresql+psycopg://u@host/db"
    assert _with_driver("postgresql+psycopg://u@host/db") == "postgresql+psycopg://u@host/db"
    assert _with_driver("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(UserError, match="cannot be opened"):
        open_storage("postgresql://nobody@/nothing?host=/nonexistent")
