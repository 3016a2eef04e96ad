"""MedMNIST metrics, computed as `medmnist.Evaluator` does, plus top-5 accuracy and the loss.

Scores are probabilities: softmax for binary and multi-class tasks, sigmoid for multi-label.
Binary tasks use the last column as the positive score with a 0.5 threshold; multi-class AUC is the
mean one-vs-rest AUC; multi-label ACC and AUC are means over labels.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def _safe_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    if len(np.unique(y_true)) < 2:  # undefined on a one-class subset; reported as NaN, never a crash
        return float("nan")
    return float(roc_auc_score(y_true, y_score))


def medmnist_auc(labels: np.ndarray, scores: np.ndarray, task: str) -> float:
    labels = labels.reshape(len(labels), -1)
    if task.startswith("multi-label"):
        return float(np.mean([_safe_auc(labels[:, i], scores[:, i]) for i in range(scores.shape[1])]))
    y = labels[:, 0]
    if task == "binary-class":
        return _safe_auc(y, scores[:, -1])
    return float(np.mean([_safe_auc(y == i, scores[:, i]) for i in range(scores.shape[1])]))


def medmnist_acc(labels: np.ndarray, scores: np.ndarray, task: str, threshold: float = 0.5) -> float:
    labels = labels.reshape(len(labels), -1)
    if task.startswith("multi-label"):
        return float(np.mean((scores > threshold) == labels))
    y = labels[:, 0]
    if task == "binary-class":
        return float(np.mean((scores[:, -1] > threshold) == y))
    return float(np.mean(scores.argmax(1) == y))


def top_k_accuracy(labels: np.ndarray, scores: np.ndarray, k: int = 5) -> float:
    top = np.argsort(-scores, axis=1)[:, :k]
    return float(np.mean((top == labels.reshape(-1, 1)[:, :1]).any(1)))


def evaluate_scores(labels: np.ndarray, scores: np.ndarray, task: str, loss: float | None = None) -> dict:
    """ACC, AUC, top-5 (single-label tasks with at least 5 classes) and the loss, as a dict."""
    result = {"acc": medmnist_acc(labels, scores, task), "auc": medmnist_auc(labels, scores, task)}
    if not task.startswith("multi-label") and scores.shape[1] >= 5:
        result["top5"] = top_k_accuracy(labels, scores, 5)
    if loss is not None:
        result["loss"] = float(loss)
    return result
