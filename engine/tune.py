"""`spikeview-engine tune`: an Optuna search over the transformer's training settings, pruned on val.

Every trial is a real run (the engine's Trainer) in `<study dir>/trials/`, made of the base
`TrainConfig` (the `train` flags) and the trial's choices: peak learning rate, timesteps, the LIF time
constant tau, the width (a factor on the model's channel widths) and the augmentation strength. After
each epoch a trial reports its val score (the runs' selection score: mean of ACC and AUC) and the median
pruner stops those that fall behind; a trial's value is its best val score. The study lives in a
database (`engine.studies`: SQLite by default, any SQLAlchemy URL such as PostgreSQL for workers on
several machines), so a search resumes where it stopped. `train_best` trains the best trial's settings
as a run of its own.
"""
from __future__ import annotations

import json
import logging
import math
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState

from engine.data.catalog import get_spec
from engine.errors import UserError
from engine.learning.trainer import Trainer, TrainEvent
from engine.models import build_model
from engine.options import TrainConfig
from engine.runs.listing import new_run_path
from engine.runs.selection import selection_score
from engine.studies import create_study, finished_trials, open_storage, optimize_until, run_workers

log = logging.getLogger(__name__)
TIMESTEPS = (2, 4, 6)
WIDTHS = (0.5, 1.0, 1.5, 2.0)


@dataclass
class SearchSettings:
    study_dir: Path  # trial runs go to study_dir/trials
    storage: str
    study: str
    trials: int = 10
    workers: int = 1


def default_study_name(base: TrainConfig) -> str:
    return f"sdt-{base.dataset}_{base.size}-{base.model}"


def suggest(trial: optuna.Trial) -> dict:
    """The search space."""
    return {
        "lr": trial.suggest_float("lr", 5e-4, 2e-2, log=True),
        "timesteps": trial.suggest_categorical("timesteps", TIMESTEPS),
        "tau": trial.suggest_float("tau", 1.5, 4.0),
        "width": trial.suggest_categorical("width", WIDTHS),
        "augment_strength": trial.suggest_float("augment_strength", 0.0, 1.5),
    }


def scaled_widths(base: TrainConfig, width: float) -> list[int]:
    """The model's channel widths times `width`, each a multiple of 8 and of the attention heads."""
    model = build_model(replace(base, timesteps=1), get_spec(base.dataset, base.size))
    quantum = math.lcm(8, model.cfg.heads)
    return [max(quantum, round(d * width / quantum) * quantum) for d in model.cfg.dims]


def trial_config(base: TrainConfig, params: dict) -> TrainConfig:
    """The run a trial trains: the base settings with the trial's choices."""
    overrides = {**base.model_overrides, "tau": params["tau"], "dims": scaled_widths(base, params["width"])}
    return replace(base, lr=params["lr"], timesteps=params["timesteps"], augment_strength=params["augment_strength"],
                   model_overrides=overrides, probe_every=0)


def objective_for(base: TrainConfig, study_dir: Path) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        config = trial_config(base, suggest(trial))
        run_dir = study_dir / "trials" / f"trial-{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("config", config.to_dict())
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        trainer = Trainer(config, run_dir)
        pruned = []

        def report(event: TrainEvent) -> None:
            if event.kind != "epoch":
                return
            trial.report(selection_score(event.metrics["val_acc"], event.metrics["val_auc"]), event.epoch)
            if trial.should_prune():
                pruned.append(event.epoch)
                trainer.stop()

        trainer.callbacks.append(report)
        summary = trainer.run()
        if pruned:
            raise optuna.TrialPruned(f"val score behind the median after epoch {pruned[0]}")
        return selection_score(summary["val_acc"], summary["val_auc"])

    return objective


def _search_worker(base: dict, study_dir: str, storage: str, study: str, trials: int, workers: int,
                   index: int, start_line=None) -> None:
    """One of `workers` search processes on this machine: they share the study and the cores."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    config = TrainConfig.from_dict(base)
    optimize_until(create_study(storage, study, config.seed + index), objective_for(config, Path(study_dir)), trials,
                   start_line=start_line)


def search(base: TrainConfig, settings: SearchSettings,
           progress: Callable[[int, int], None] | None = None) -> dict:
    """Run (or resume) the study until it holds `settings.trials` finished trials; its summary.

    `progress(finished, wanted)` is called as trials finish.
    """
    base.validate()
    study = create_study(settings.storage, settings.study, base.seed)  # the tables and the study, once
    _check_same_search(study, base)

    def report(*_) -> None:
        if progress is not None:
            progress(finished_trials(study), settings.trials)

    if settings.workers <= 1:
        optimize_until(study, objective_for(base, settings.study_dir), settings.trials, callbacks=(report,))
    elif finished_trials(study) < settings.trials:
        args = (base.to_dict(), str(settings.study_dir), settings.storage, settings.study, settings.trials,
                settings.workers)
        run_workers(_search_worker, args, settings.workers, settings.study, poll=report)
    report()
    return study_summary(settings.storage, settings.study)


MACHINE_SETTINGS = ("data_root", "device", "processes")  # may differ between the machines of one search


def _check_same_search(study: optuna.Study, base: TrainConfig) -> None:
    """A study holds one search: refuse to continue it with other base settings."""
    settings = {k: v for k, v in json.loads(json.dumps(base.to_dict())).items() if k not in MACHINE_SETTINGS}
    saved = study.user_attrs.get("base")
    if saved is None:
        study.set_user_attr("base", settings)
        return
    changed = sorted(k for k in settings if saved.get(k) != settings[k])
    if changed:
        raise UserError(f"The study {study.study_name} was started with other settings ({', '.join(changed)}); "
                        "continue it with those, or name a new study with --study-name.")


def _best_trial(storage: str, name: str) -> optuna.trial.FrozenTrial | None:
    study = optuna.load_study(study_name=name, storage=open_storage(storage))
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    return max(complete, key=lambda t: t.value) if complete else None


def study_summary(storage: str, name: str) -> dict:
    try:
        study = optuna.load_study(study_name=name, storage=open_storage(storage))
    except KeyError as exc:
        raise UserError(f"The storage {storage} holds no study named {name}.") from exc
    states = [t.state for t in study.get_trials(deepcopy=False)]
    best = _best_trial(storage, name)
    return {
        "study": name,
        "storage": storage,
        "trials": len(states),
        "complete": states.count(TrialState.COMPLETE),
        "pruned": states.count(TrialState.PRUNED),
        "best_trial": None if best is None else best.number,
        "best_value": None if best is None else best.value,
        "best_params": {} if best is None else best.params,
        "best_run": None if best is None else best.user_attrs.get("run_dir"),
    }


def best_config(storage: str, name: str, epochs: int | None = None) -> TrainConfig:
    """The best complete trial's run settings (with `epochs` epochs when given)."""
    best = _best_trial(storage, name)
    if best is None:
        raise UserError(f"The study {name} has no complete trial yet: run more trials first.")
    config = TrainConfig.from_dict(best.user_attrs["config"])
    return replace(config, epochs=epochs) if epochs else config


def train_best(storage: str, name: str, runs_folder: Path, epochs: int | None = None,
               callbacks: list | None = None) -> dict:
    """Train the best trial's settings as a new run in `runs_folder`; the Trainer's summary."""
    config = best_config(storage, name, epochs)
    run_dir = new_run_path(runs_folder, config.dataset, config.size, config.model)
    log.info("training the best trial of %s in %s", name, run_dir)
    return Trainer(config, run_dir, callbacks=callbacks).run()
