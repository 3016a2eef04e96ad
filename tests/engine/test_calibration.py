"""Calibration: temperature scaling fitted on val, the expected calibration error before and after."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.data.catalog import get_spec
from engine.data.pipeline import Preprocessing, load_split_tensors
from engine.learning.calibration import (
    calibrate, calibrate_run, expected_calibration_error, fit_temperature, reliability_bins,
)
from engine.models import build_model, load_for_run
from engine.options import TrainConfig
from engine.probe.inference import infer
from engine.runs.calibration import CALIBRATION, read_calibration
from engine.runs.rundir import RunDir


def _sampled(rng: np.random.Generator, n: int, classes: int, sharpness: float) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose softmax is the true distribution of the labels, then sharpened `sharpness` times."""
    logits = rng.normal(0, 1.5, (n, classes))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(classes, p=row) for row in p])[:, None]
    return logits * sharpness, labels


def test_temperature_undoes_a_known_sharpening():
    logits, labels = _sampled(np.random.default_rng(0), 4000, 4, sharpness=3.0)
    assert fit_temperature(logits, labels, multi_label=False) == pytest.approx(3.0, rel=0.1)


def test_ece_of_a_perfect_and_of_an_overconfident_predictor():
    logits, labels = _sampled(np.random.default_rng(1), 4000, 3, sharpness=1.0)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert expected_calibration_error(p, labels, False) < 0.03
    sharp = np.exp(logits * 4) / np.exp(logits * 4).sum(1, keepdims=True)
    assert expected_calibration_error(sharp, labels, False) > 0.1
    bins = reliability_bins(sharp, labels, False)
    assert sum(bins.counts) == 4000 and len(bins.edges) == len(bins.counts) + 1


def test_multi_label_calibration_scores_every_label():
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 2, (2000, 5))
    labels = (rng.random((2000, 5)) < 1 / (1 + np.exp(-logits))).astype(np.int64)
    result = calibrate(logits * 4, labels, logits * 4, labels, multi_label=True)
    assert result.temperature == pytest.approx(4.0, rel=0.15)
    assert result.ece["test"]["after"] < result.ece["test"]["before"] / 2


def test_ece_falls_on_a_deliberately_overconfident_model(medmnist_root, tmp_path):
    """A real spiking transformer on real BreastMNIST images, its head scaled 30 times: calibrated on
    val, its test ECE falls, its decisions do not change, and inference reports calibrated probabilities."""
    config = TrainConfig(dataset="breastmnist", data_root=str(medmnist_root), device="cpu", tta="flip")
    spec = get_spec("breastmnist")
    torch.manual_seed(0)
    model = build_model(config, spec)
    with torch.no_grad():
        model.head.weight.mul_(30)
        model.head.bias.copy_(torch.tensor([-2.0, 2.0]))  # sure of the majority class, whatever the image
    prep = Preprocessing.for_dataset(spec)
    splits = {s: load_split_tensors(spec, s, prep, medmnist_root) for s in ("val", "test")}
    run = RunDir(tmp_path / "run")
    run.write_config({"train": config.to_dict(), "preprocessing": prep.to_dict(),
                      "dataset": {"labels": {str(k): v for k, v in spec.labels.items()}},
                      "model": {"name": config.model, **model.cfg.to_dict()}})
    run.save_checkpoint("best", model, {"epoch": 0})
    result = calibrate_run(model, splits, spec, config, torch.device("cpu"), run)
    assert result.temperature > 2
    assert result.ece["test"]["after"] < result.ece["test"]["before"] - 0.05
    assert result.ece["val"]["after"] < result.ece["val"]["before"]
    saved = json.loads((run.path / CALIBRATION).read_text())
    assert read_calibration(run.path).temperature == pytest.approx(saved["temperature"])
    loaded = load_for_run(run.path, device="cpu")
    answer = infer(loaded, medmnist_root / "breastmnist.npz", split="test", index=0)
    assert answer.calibrated_probabilities is not None and answer.temperature == pytest.approx(result.temperature)
    assert answer.calibrated_probabilities.max() < answer.probabilities.max()
    assert answer.calibrated_probabilities.argmax() == answer.probabilities.argmax()
    assert "calibrated_probabilities" in answer.to_dict()


def test_a_run_without_calibration_reads_as_none(tmp_path):
    assert read_calibration(tmp_path) is None
