"""Optuna studies, one per (task x implementation x rule), in a real database (`engine.studies`:
SQLite by default or any SQLAlchemy URL, resumable, `workers` processes on this machine)."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass

import numpy as np
import optuna
import torch
from optuna.trial import TrialState

from engine.snndeep.config import DataConfig, ModelConfig, RuleConfig, from_dict, to_dict, with_overrides
from engine.snndeep.study import Combination, fold_data, load_samples, make_folds, train_one
from engine.studies import create_study, default_storage, finished_trials, open_storage, optimize_until, run_workers

log = logging.getLogger(__name__)
__all__ = ["TuneSettings", "best_params", "create_study", "default_storage", "open_storage", "study_name",
           "study_summary", "tune_combination"]


@dataclass
class TuneSettings:
    storage: str
    trials: int = 8
    workers: int = 1
    seed: int = 0
    epochs: int = 3  # epochs (or active-learning rounds) per trial


def study_name(task_key: str, implementation: str, rule: str) -> str:
    return f"snndeep-{task_key}-{implementation}-{rule}"


def suggest(trial: optuna.Trial, rule: str) -> dict:
    """The search space: neuron tau, threshold, timesteps, widths and the rule's learning rate."""
    params: dict = {
        "tau": trial.suggest_float("tau", 2.0, 16.0, log=True),
        "threshold": trial.suggest_float("threshold", 0.5, 2.0),
    }
    if rule == "bptt":
        params["timesteps"] = trial.suggest_categorical("timesteps", [4, 8, 16])
        params["hidden"] = trial.suggest_categorical("hidden", [64, 128, 256])
        params["lr"] = trial.suggest_float("lr", 5e-4, 2e-2, log=True)
    elif rule == "tempotron":
        params["timesteps"] = trial.suggest_categorical("timesteps", [16, 32])
        params["tau_psp"] = trial.suggest_float("tau_psp", 3.0, 16.0, log=True)
        params["tau_syn"] = params["tau_psp"] * trial.suggest_float("tau_ratio", 0.1, 0.5)
        params["tempotron_lr"] = trial.suggest_float("tempotron_lr", 0.05, 5.0, log=True)
    elif rule == "active":
        params["timesteps"] = trial.suggest_categorical("timesteps", [8, 16])
        params["hidden"] = trial.suggest_categorical("hidden", [64, 128, 256])
        params["stdp_lr"] = trial.suggest_float("stdp_lr", 0.1, 5.0, log=True)
        params["hidden_gain"] = trial.suggest_float("hidden_gain", 1.0, 4.0)
        params["trace_tau"] = trial.suggest_float("trace_tau", 1.5, 8.0)
        params["uncertainty"] = trial.suggest_categorical("uncertainty", ["margin", "latency"])
    return params


def objective_for(data_cfg: DataConfig, implementation: str, rule: str, base_rule: RuleConfig, epochs: int):
    samples = load_samples(data_cfg)
    fold = make_folds(samples, data_cfg)[0]  # tuning sees fold 0's training and validation patients only
    data = fold_data(samples, fold, data_cfg)

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, rule)
        rule_cfg = with_overrides(base_rule, {**params, "epochs": epochs, "rounds": max(epochs, 2)})
        combo = Combination(implementation, rule, with_overrides(ModelConfig(), params), rule_cfg)

        trial.set_user_attr("worker_pid", os.getpid())

        def report(step: int, value: float) -> None:
            trial.report(0.5 if np.isnan(value) else value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        outcome = train_one(combo, data, data_cfg.seed, on_epoch=report)
        trial.set_user_attr("params", params)
        best = np.nanmax(outcome.val_history) if np.isfinite(outcome.val_history).any() else 0.5
        return float(outcome.val_history[-1]) if np.isfinite(outcome.val_history[-1]) else float(best)

    return objective


def _worker(data_json: str, implementation: str, rule: str, rule_json: str, settings_json: str, worker_index: int,
            start_line=None) -> None:
    """One worker process: optimise the shared study until it holds `trials` finished trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)  # N workers on N cores; intra-op threads only fight each other here
    settings = TuneSettings(**json.loads(settings_json))
    data_cfg = from_dict(DataConfig, json.loads(data_json))
    study = create_study(settings.storage, study_name(data_cfg.key, implementation, rule), settings.seed + worker_index)
    if finished_trials(study) >= settings.trials:
        return
    objective = objective_for(data_cfg, implementation, rule, from_dict(RuleConfig, json.loads(rule_json)), settings.epochs)
    optimize_until(study, objective, settings.trials, catch=(RuntimeError,), start_line=start_line)


def tune_combination(data_cfg: DataConfig, implementation: str, rule: str, settings: TuneSettings,
                     base_rule: RuleConfig | None = None) -> dict:
    """Run (or resume) one study to `settings.trials` finished trials; return its summary."""
    name = study_name(data_cfg.key, implementation, rule)
    study = create_study(settings.storage, name, settings.seed)  # creates the tables and the study once
    args = (json.dumps(to_dict(data_cfg)), implementation, rule, json.dumps(to_dict(base_rule or RuleConfig())),
            json.dumps(settings.__dict__))
    if finished_trials(study) < settings.trials:
        if settings.workers <= 1:
            _worker(*args, 0)
        else:
            run_workers(_worker, args, settings.workers, name)
    return study_summary(settings.storage, name)


def study_summary(storage: str, name: str) -> dict:
    study = optuna.load_study(study_name=name, storage=open_storage(storage))
    states = [t.state for t in study.get_trials(deepcopy=False)]
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value) if complete else None
    return {
        "study": name,
        "trials": len(states),
        "complete": states.count(TrialState.COMPLETE),
        "pruned": states.count(TrialState.PRUNED),
        "best_value": None if best is None else best.value,
        "best_params": {} if best is None else best.user_attrs.get("params", {}),
    }


def best_params(storage: str, task_key: str, implementations, rules) -> dict[str, dict]:
    """`impl/rule` -> best parameters, for the studies that exist in the storage."""
    existing = {s.study_name for s in optuna.get_all_study_summaries(open_storage(storage), include_best_trial=False)}
    found = {}
    for impl in implementations:
        for rule in rules:
            name = study_name(task_key, impl, rule)
            if name in existing:
                summary = study_summary(storage, name)
                if summary["best_params"]:
                    found[f"{impl}/{rule}"] = summary["best_params"]
    return found
