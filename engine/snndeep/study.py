"""Cross-validated runs of every (implementation x learning rule) on one task, one fresh process each.

A fresh process per combination keeps the timing and peak-memory figures of one combination free
of allocator state left by another. Results are plain JSON.
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.errors import UserError
from engine.snndeep.config import (
    IMPLEMENTATIONS, RULES, DataConfig, ModelConfig, RuleConfig, from_dict, to_dict, with_overrides,
)
from engine.snndeep.metrics import PeakMemory, binary_metrics
from engine.snndeep.models import create_snn
from engine.snndeep.rules import FoldData, RuleOutcome, run_rule
from engine.snndeep.samples import SampleSet, minmax_scale, msd_samples, organamnist_samples
from engine.snndeep.splits import Fold, official_folds, patient_folds, patients_overlap, slice_folds

log = logging.getLogger(__name__)
METRICS = ("acc", "balanced_acc", "roc_auc", "pr_auc")


@dataclass
class Combination:
    """One cell of the study: an implementation, a rule and their hyperparameters."""

    implementation: str
    rule: str
    model: ModelConfig = field(default_factory=ModelConfig)
    rule_config: RuleConfig = field(default_factory=RuleConfig)
    protocol: str = ""  # overrides the data protocol (e.g. "slice" for the leaky comparison)


def load_samples(data: DataConfig) -> SampleSet:
    return _cached_samples(json.dumps(to_dict(data), sort_keys=True))


@lru_cache(maxsize=4)
def _cached_samples(data_json: str) -> SampleSet:
    data = from_dict(DataConfig, json.loads(data_json))
    if data.task == "msd":
        if not data.msd_dir:
            raise UserError("The msd task needs --msd-dir, an MSD liver task folder.")
        return msd_samples(Path(data.msd_dir), data.samples, data.seed)
    if data.task == "organamnist":
        root = Path(data.medmnist_root) if data.medmnist_root else None
        limits = {"train": data.max_train, "val": data.max_test // 2, "test": data.max_test}
        return organamnist_samples(root, data.samples, limits, data.seed)
    raise UserError(f"Unknown task '{data.task}'; choose msd or organamnist.")


def make_folds(samples: SampleSet, data: DataConfig, protocol: str = "") -> list[Fold]:
    protocol = protocol or data.protocol
    if samples.official_split is not None:
        return official_folds(samples.official_split, data.folds, data.seed, data.max_train, data.max_test)
    if protocol == "slice":
        return slice_folds(len(samples), data.folds, data.seed)
    if protocol != "patient":
        raise UserError(f"Unknown protocol '{protocol}'; choose patient or slice.")
    folds = patient_folds(samples.groups, data.folds, data.seed, samples.y)
    assert all(not patients_overlap(samples.groups, f) for f in folds), "a patient is in two splits"
    return folds


def fold_data(samples: SampleSet, fold: Fold, data: DataConfig) -> FoldData:
    """Arrays of one fold; feature vectors are scaled to [0, 1] with the training range only."""
    rng = np.random.default_rng(data.seed + fold.index)
    train = fold.train if len(fold.train) <= data.max_train else np.sort(rng.choice(fold.train, data.max_train, replace=False))
    parts = [samples.x[train], samples.x[fold.val], samples.x[fold.test]]
    if samples.feature_names:
        parts = minmax_scale(*parts)
    return FoldData(parts[0], samples.y[train], parts[1], samples.y[fold.val], parts[2], samples.y[fold.test])


def train_one(combo: Combination, data: FoldData, seed: int, on_epoch=None, **rule_kwargs) -> RuleOutcome:
    torch.manual_seed(seed)
    model = create_snn(combo.implementation, data.n_inputs, 2, combo.model)
    return run_rule(combo.rule, model, data, combo.rule_config, combo.model, on_epoch=on_epoch, seed=seed, **rule_kwargs)


def evaluate_combination(data_cfg: DataConfig, combo: Combination) -> dict:
    """Train and test on every fold; metrics per fold and mean +- sd, time per epoch, peak memory."""
    samples = load_samples(data_cfg)
    folds = make_folds(samples, data_cfg, combo.protocol)
    per_fold, curves, random_curves, epoch_seconds, peaks = [], [], [], [], []
    outcome = None
    for fold in folds:
        data = fold_data(samples, fold, data_cfg)
        with PeakMemory() as memory:
            outcome = train_one(combo, data, data_cfg.seed + fold.index)
        peaks.append(memory.peak_mb)
        epoch_seconds.extend(outcome.epoch_seconds)
        per_fold.append({"fold": fold.index, "n_train": len(data.y_train), "n_test": len(data.y_test),
                         **binary_metrics(data.y_test, outcome.test_score, outcome.test_pred)})
        if combo.rule == "active":
            curves.append(outcome.label_curve)
            random_curves.append(train_one(combo, data, data_cfg.seed + fold.index, strategy="random").label_curve)
    assert outcome is not None
    return {
        "implementation": combo.implementation,
        "rule": combo.rule,
        "protocol": "official" if samples.official_split is not None else (combo.protocol or data_cfg.protocol),
        "model": to_dict(combo.model),
        "rule_config": to_dict(combo.rule_config),
        "folds": per_fold,
        "summary": summarise(per_fold),
        "epoch_seconds": float(np.mean(epoch_seconds)),
        "samples_per_epoch": int(outcome.samples_per_epoch),
        "ms_per_sample": 1000 * float(np.mean(epoch_seconds)) / max(outcome.samples_per_epoch, 1),
        "peak_memory_mb": float(np.max(peaks)),
        "label_curves": curves,
        "random_label_curves": random_curves,
        "notes": outcome.notes,
    }


def summarise(per_fold: list[dict]) -> dict:
    summary = {}
    for metric in METRICS:
        values = np.array([f[metric] for f in per_fold], dtype=float)
        summary[metric] = {"mean": float(np.nanmean(values)), "sd": float(np.nanstd(values))} if np.isfinite(values).any() else {"mean": None, "sd": None}
    return summary


def _evaluate_in_child(data_json: str, combo_json: str) -> dict:
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    import snntorch  # noqa: F401 - import both frameworks before measuring, whichever one runs
    import spikingjelly.activation_based.neuron  # noqa: F401
    values = json.loads(combo_json)
    combo = Combination(values["implementation"], values["rule"], from_dict(ModelConfig, values["model"]),
                        from_dict(RuleConfig, values["rule_config"]), values.get("protocol", ""))
    return evaluate_combination(from_dict(DataConfig, json.loads(data_json)), combo)


def run_combinations(data_cfg: DataConfig, combos: list[Combination], workers: int = 1) -> list[dict]:
    """Evaluate each combination in its own fresh process (`workers` at a time)."""
    context = multiprocessing.get_context("spawn")
    data_json = json.dumps(to_dict(data_cfg))
    jobs = [json.dumps({"implementation": c.implementation, "rule": c.rule, "model": to_dict(c.model),
                        "rule_config": to_dict(c.rule_config), "protocol": c.protocol}) for c in combos]
    fresh = {"max_tasks_per_child": 1} if sys.version_info >= (3, 11) else {}  # a new process per combination
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, **fresh) as pool:
        futures = [pool.submit(_evaluate_in_child, data_json, job) for job in jobs]
        return [f.result() for f in tqdm(futures, desc=f"{data_cfg.task} runs", leave=False)]


def default_combinations(implementations=IMPLEMENTATIONS, rules=RULES, best_params: dict | None = None,
                         base_model: ModelConfig | None = None, base_rule: RuleConfig | None = None) -> list[Combination]:
    """Every (implementation x rule) with its tuned parameters where a study has them."""
    combos = []
    for impl in implementations:
        for rule in rules:
            params = (best_params or {}).get(f"{impl}/{rule}", {})
            combos.append(Combination(impl, rule, with_overrides(base_model or ModelConfig(), params),
                                      with_overrides(base_rule or RuleConfig(), params)))
    return combos


def save_results(path: Path, data_cfg: DataConfig, samples: SampleSet, results: list[dict]) -> dict:
    payload = {
        "task": data_cfg.task,
        "dataset": samples.name,
        "n_samples": len(samples),
        "n_positive": int(samples.y.sum()),
        "n_patients": int(len(np.unique(samples.groups))) if samples.official_split is None else None,
        "data_config": to_dict(data_cfg),
        "results": results,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, allow_nan=True))
    return payload
