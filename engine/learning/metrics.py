"""MedMNIST metrics, computed as `medmnist.Evaluator` does, plus top-5 accuracy and the loss.

Scores are probabilities (`engine.models.outputs`), and decisions are made as there: binary tasks
threshold the last column at 0.5. Multi-class AUC is the mean one-vs-rest AUC; multi-label ACC and
AUC are means over labels.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from engine.models.outputs import predicted_classes


def _safe_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    if len(np.unique(y_true)) < 2:  # undefined on a one-class subset; reported as NaN, never a crash
        return float("nan")
    return float(roc_auc_score(y_true, y_score))


def one_vs_rest(labels: np.ndarray, scores: np.ndarray, task: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(column, truth, score) of every curve a task is scored on: the positive (last) column of a binary
    task, every label of a multi-label task, every class against the rest otherwise."""
    labels = labels.reshape(len(labels), -1)
    if task == "binary-class":
        last = scores.shape[1] - 1
        return [(last, labels[:, 0] == last, scores[:, last])]
    if task.startswith("multi-label"):
        return [(i, labels[:, i] == 1, scores[:, i]) for i in range(scores.shape[1])]
    return [(i, labels[:, 0] == i, scores[:, i]) for i in range(scores.shape[1])]


def medmnist_auc(labels: np.ndarray, scores: np.ndarray, task: str) -> float:
    return float(np.mean([_safe_auc(truth, score) for _, truth, score in one_vs_rest(labels, scores, task)]))


def medmnist_acc(labels: np.ndarray, scores: np.ndarray, task: str, threshold: float = 0.5) -> float:
    labels = labels.reshape(len(labels), -1)
    truth = labels if task.startswith("multi-label") else labels[:, 0]
    return float(np.mean(predicted_classes(scores, task, threshold) == truth))


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
