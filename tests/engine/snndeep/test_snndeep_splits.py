"""Splits by patient, never by slice."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import UserError
from engine.snndeep.config import SampleConfig
from engine.snndeep.samples import msd_samples
from engine.snndeep.splits import official_folds, patient_folds, patients_overlap, slice_folds


def test_no_patient_is_in_two_splits(msd_dir):
    samples = msd_samples(msd_dir, SampleConfig(mode="features"))
    folds = patient_folds(samples.groups, k=3, seed=1, y=samples.y)
    tested = []
    for fold in folds:
        assert patients_overlap(samples.groups, fold) == set()
        assert len(fold.train) and len(fold.val) and len(fold.test)
        assert len(np.intersect1d(fold.train, fold.test)) == 0
        tested.extend(np.unique(samples.groups[fold.test]))
    assert sorted(tested) == sorted(np.unique(samples.groups))  # each patient tested exactly once


def test_test_folds_hold_both_classes_when_possible(msd_dir):
    samples = msd_samples(msd_dir, SampleConfig(mode="features"))
    for fold in patient_folds(samples.groups, k=3, y=samples.y):
        assert set(samples.y[fold.test]) == {0, 1}


def test_slice_protocol_leaks_patients():
    groups = np.repeat(np.arange(6), 20)
    assert any(patients_overlap(groups, f) for f in slice_folds(len(groups), 3))


def test_too_few_patients_is_a_user_error():
    with pytest.raises(UserError):
        patient_folds(np.array(["a", "a", "b"]), k=3)


def test_official_folds_stay_in_their_split():
    names = np.array(["train"] * 50 + ["val"] * 20 + ["test"] * 30)
    for fold in official_folds(names, k=2, seed=0, max_train=40, max_test=20):
        assert set(names[fold.train]) == {"train"} and set(names[fold.test]) == {"test"}
        assert len(fold.train) == 40 and len(fold.test) == 20
