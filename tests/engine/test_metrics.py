"""Our metrics give exactly what medmnist.Evaluator's functions give on the same scores."""
from __future__ import annotations

import numpy as np
import pytest
from medmnist.evaluator import getACC, getAUC

from engine.learning.metrics import evaluate_scores, medmnist_acc, medmnist_auc, top_k_accuracy


def _softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.parametrize("task,classes", [("binary-class", 2), ("multi-class", 11), ("ordinal-regression", 5),
                                          ("multi-label, binary-class", 14)])
def test_parity_with_medmnist_evaluator(task, classes):
    rng = np.random.default_rng(classes)
    n = 300
    if task.startswith("multi-label"):
        labels = rng.integers(0, 2, (n, classes))
        scores = 1 / (1 + np.exp(-rng.normal(size=(n, classes)) - labels))
    else:
        labels = rng.integers(0, classes, (n, 1))
        scores = _softmax(rng.normal(size=(n, classes)) + 1.5 * np.eye(classes)[labels[:, 0]])
    assert medmnist_acc(labels, scores, task) == pytest.approx(getACC(labels, scores, task), abs=1e-12)
    assert medmnist_auc(labels, scores, task) == pytest.approx(getAUC(labels, scores, task), abs=1e-12)


def test_top5_and_loss_reported_where_they_apply():
    labels = np.array([[0], [1], [2], [3], [4], [5]])
    scores = np.eye(6)[[1, 1, 2, 3, 4, 5]] - 0.01 * np.arange(6)  # sample 0 ranks its class second
    assert top_k_accuracy(labels, scores, 5) == 1.0
    result = evaluate_scores(labels, _softmax(scores), "multi-class", loss=0.7)
    assert set(result) == {"acc", "auc", "top5", "loss"}
    assert "top5" not in evaluate_scores(np.array([[0], [1]]), np.array([[0.9, 0.1], [0.2, 0.8]]), "binary-class")
