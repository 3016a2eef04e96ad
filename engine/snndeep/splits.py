"""Patient-level folds (never by slice), the leaky slice-level protocol for comparison, OrganAMNIST's official split."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import UserError


@dataclass(frozen=True)
class Fold:
    index: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def patient_folds(groups: np.ndarray, k: int, seed: int = 0, y: np.ndarray | None = None, val_patients: int = 1) -> list[Fold]:
    """k folds over patients: each patient is in the test part of exactly one fold, and validation
    patients are carved from the training patients. Patients with and without lesions are dealt
    round-robin so every test part gets both when it can; validation patients cover both classes
    when the training patients allow it."""
    patients = np.unique(groups)
    if k < 2 or len(patients) < k + val_patients + 1:
        raise UserError(f"{len(patients)} patients are too few for {k} patient-level folds with a validation patient.")
    rng = np.random.default_rng(seed)
    has_lesion = {p: bool(y[groups == p].any()) for p in patients} if y is not None else {p: False for p in patients}
    order = np.concatenate([rng.permutation([p for p in patients if has_lesion[p] == flag]) for flag in (True, False)])
    folds = []
    for i in range(k):
        test_p = order[i::k]
        rest = [p for p in order if p not in set(test_p)]
        val_p = _validation_patients(rest, has_lesion, val_patients)
        train_p = [p for p in rest if p not in set(val_p)]
        folds.append(Fold(i, *(np.flatnonzero(np.isin(groups, part)) for part in (train_p, val_p, test_p))))
    return folds


def _validation_patients(rest: list, has_lesion: dict, count: int) -> list:
    """`count` patients (one more when needed) so that a patient with lesions and one without are both in."""
    with_lesion = [p for p in rest if has_lesion[p]]
    without = [p for p in rest if not has_lesion[p]]
    if with_lesion and without and len(rest) - max(count, 2) >= 2:
        picks = [with_lesion[-1], without[-1]]
        return picks + [p for p in rest if p not in picks][: max(0, count - 2)]
    return rest[-count:]


def slice_folds(n: int, k: int, seed: int = 0, val_fraction: float = 0.15) -> list[Fold]:
    """The leaky protocol: random slices, so one patient's neighbouring slices land in train and test."""
    order = np.random.default_rng(seed).permutation(n)
    folds = []
    for i, test in enumerate(np.array_split(order, k)):
        rest = np.setdiff1d(order, test)
        rest = np.random.default_rng(seed + i).permutation(rest)
        n_val = max(1, int(len(rest) * val_fraction))
        folds.append(Fold(i, np.sort(rest[n_val:]), np.sort(rest[:n_val]), np.sort(test)))
    return folds


def official_folds(split_names: np.ndarray, k: int, seed: int, max_train: int, max_test: int) -> list[Fold]:
    """OrganAMNIST: its train / val / test split is patient-disjoint upstream (no patient ids ship),
    so a 'fold' is a different random subsample of it per seed."""
    folds = []
    for i in range(k):
        rng = np.random.default_rng(seed + i)
        pick = lambda name, limit: np.sort(_subsample(np.flatnonzero(split_names == name), limit, rng))  # noqa: E731
        folds.append(Fold(i, pick("train", max_train), pick("val", max(max_test // 2, 1)), pick("test", max_test)))
    return folds


def _subsample(index: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return index if not limit or len(index) <= limit else rng.choice(index, limit, replace=False)


def patients_overlap(groups: np.ndarray, fold: Fold) -> set:
    """Patients found in more than one part of a fold (empty for a leakage-free fold)."""
    parts = [set(groups[fold.train]), set(groups[fold.val]), set(groups[fold.test])]
    return (parts[0] & parts[1]) | (parts[0] & parts[2]) | (parts[1] & parts[2])
