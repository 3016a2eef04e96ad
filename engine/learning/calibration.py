"""Temperature scaling (Guo et al. 2017) fitted on `val`, and the expected calibration error (ECE).

Single-label tasks are scored on the top-label confidence; multi-label tasks on every label's
probability against its truth. The temperature minimises the validation NLL of logits / T; it never
changes a decision (argmax, or the 0.5 threshold of a binary task), only how sure the model says it is.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import minimize_scalar

from engine.data.pipeline import SplitTensors
from engine.data.spec import DatasetSpec
from engine.learning.evaluation import split_logits
from engine.models.outputs import probabilities_from_logits
from engine.options import TrainConfig
from engine.runs.calibration import Calibration, ReliabilityBins
from engine.runs.rundir import RunDir

BINS = 15


def _nll(logits: torch.Tensor, labels: torch.Tensor, multi_label: bool) -> float:
    if multi_label:
        return float(F.binary_cross_entropy_with_logits(logits, labels.float()))
    return float(F.cross_entropy(logits, labels[:, 0]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, multi_label: bool) -> float:
    """The temperature T in [e^-4, e^4] that minimises the NLL of logits / T."""
    scores = torch.from_numpy(np.asarray(logits, dtype=np.float64))
    truth = torch.from_numpy(np.asarray(labels).reshape(len(labels), -1).astype(np.int64))
    result = minimize_scalar(lambda log_t: _nll(scores / math.exp(log_t), truth, multi_label),
                             bounds=(-4.0, 4.0), method="bounded", options={"xatol": 1e-4})
    return float(math.exp(result.x))


def confidence_and_correct(probabilities: np.ndarray, labels: np.ndarray, multi_label: bool
                           ) -> tuple[np.ndarray, np.ndarray]:
    """What is calibrated: (confidence, 1 if that confidence was right) per scored prediction."""
    labels = np.asarray(labels).reshape(len(labels), -1)
    if multi_label:
        return probabilities.ravel(), labels.ravel().astype(np.float64)
    return probabilities.max(1), (probabilities.argmax(1) == labels[:, 0]).astype(np.float64)


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, multi_label: bool, bins: int = BINS
                     ) -> ReliabilityBins:
    confidence, correct = confidence_and_correct(probabilities, labels, multi_label)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore"):
        mean_confidence = np.bincount(which, confidence, bins) / counts
        accuracy = np.bincount(which, correct, bins) / counts
    return ReliabilityBins(edges.tolist(), mean_confidence.tolist(), accuracy.tolist(), counts.tolist())


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, multi_label: bool,
                               bins: int = BINS) -> float:
    """Σ_b (n_b / n) · |accuracy_b − confidence_b| over equal-width confidence bins."""
    table = reliability_bins(probabilities, labels, multi_label, bins)
    counts = np.asarray(table.counts, dtype=np.float64)
    gaps = np.abs(np.nan_to_num(np.asarray(table.accuracy)) - np.nan_to_num(np.asarray(table.confidence)))
    return float((counts * gaps).sum() / max(counts.sum(), 1))


def _probabilities(logits: np.ndarray, multi_label: bool, temperature: float = 1.0) -> np.ndarray:
    return probabilities_from_logits(torch.from_numpy(logits), multi_label, temperature).numpy()


def calibrate(val_logits: np.ndarray, val_labels: np.ndarray, test_logits: np.ndarray, test_labels: np.ndarray,
              multi_label: bool) -> Calibration:
    """Fit the temperature on val; ECE before and after on val and test; reliability diagrams on test."""
    temperature = fit_temperature(val_logits, val_labels, multi_label)
    ece, reliability = {}, {}
    for split, logits, labels in (("val", val_logits, val_labels), ("test", test_logits, test_labels)):
        before, after = _probabilities(logits, multi_label), _probabilities(logits, multi_label, temperature)
        ece[split] = {"before": expected_calibration_error(before, labels, multi_label),
                      "after": expected_calibration_error(after, labels, multi_label)}
    reliability["before"] = reliability_bins(_probabilities(test_logits, multi_label), test_labels, multi_label)
    reliability["after"] = reliability_bins(_probabilities(test_logits, multi_label, temperature), test_labels,
                                            multi_label)
    return Calibration(temperature, ece, reliability)


def calibrate_run(model: torch.nn.Module, splits: dict[str, SplitTensors], spec: DatasetSpec, config: TrainConfig,
                  device: torch.device, run_dir: RunDir | Path | str, test_logits: np.ndarray | None = None
                  ) -> Calibration:
    """Calibrate a trained model on its run's val split, report test, and save it in the run directory
    (`test_logits`: the test scores when they are already known)."""
    val_logits, _ = split_logits(model, splits["val"], spec, config, device)
    if test_logits is None:
        test_logits, _ = split_logits(model, splits["test"], spec, config, device)
    result = calibrate(val_logits, splits["val"].labels.numpy(), test_logits, splits["test"].labels.numpy(),
                       spec.multi_label)
    result.save(run_dir.path if isinstance(run_dir, RunDir) else run_dir)
    return result
