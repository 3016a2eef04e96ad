"""Confusion matrices and ROC curves from validation scores, and a Trainer callback that computes
them at each epoch end (the app draws them; the CLI or a notebook can use them the same way)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from engine.data.transforms import tta_views
from engine.learning.evaluation import predict_scores
from engine.learning.metrics import one_vs_rest
from engine.learning.trainer import TrainEvent, Trainer
from engine.models.outputs import predicted_classes

MULTI_LABEL_COLUMNS = ["TN", "FP", "FN", "TP"]


@dataclass
class ConfusionMatrix:
    matrix: np.ndarray  # counts [rows, cols]
    row_names: list[str]  # true classes (or labels, for multi-label tasks)
    col_names: list[str]  # predicted classes (or TN/FP/FN/TP)


@dataclass
class RocCurve:
    name: str
    fpr: np.ndarray
    tpr: np.ndarray
    auc: float


@dataclass
class EpochCurves:
    epoch: int
    confusion: ConfusionMatrix
    roc: list[RocCurve] = field(default_factory=list)


def confusion_matrix(labels: np.ndarray, scores: np.ndarray, task: str, names: list[str]) -> ConfusionMatrix:
    labels = labels.reshape(len(labels), -1)
    predicted = predicted_classes(scores, task)
    if task.startswith("multi-label"):
        truth = labels.astype(bool)
        guess = predicted.astype(bool)
        counts = np.stack([(~truth & ~guess).sum(0), (~truth & guess).sum(0),
                           (truth & ~guess).sum(0), (truth & guess).sum(0)], axis=1)
        return ConfusionMatrix(counts, list(names), list(MULTI_LABEL_COLUMNS))
    classes = scores.shape[1]
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels[:, 0], predicted), 1)
    return ConfusionMatrix(matrix, list(names), list(names))


def _curve(name: str, truth: np.ndarray, score: np.ndarray) -> RocCurve | None:
    if len(np.unique(truth)) < 2:  # undefined for a one-class subset
        return None
    fpr, tpr, _ = roc_curve(truth, score)
    return RocCurve(name, fpr, tpr, float(roc_auc_score(truth, score)))


def roc_curves(labels: np.ndarray, scores: np.ndarray, task: str, names: list[str]) -> list[RocCurve]:
    """One curve for a binary task, one-vs-rest per class or per label otherwise."""
    curves = (_curve(names[column], truth, score) for column, truth, score in one_vs_rest(labels, scores, task))
    return [curve for curve in curves if curve is not None]


def epoch_curves_callback(trainer: Trainer, deliver: Callable[[EpochCurves], None]) -> Callable[[TrainEvent], None]:
    """A Trainer callback: at each epoch end, score `val` and deliver its confusion matrix and ROC."""

    def on_event(event: TrainEvent) -> None:
        if event.kind != "epoch":
            return
        cfg, spec, val = trainer.config, trainer.spec, trainer.splits["val"]
        scores, _ = predict_scores(trainer.evaluated_model, val, spec, cfg.timesteps, cfg.encoder,
                                   trainer.device, cfg.eval_batch_size,
                                   tta_views(spec.labels, cfg.tta, spec.spatial_dims))
        labels = val.labels.numpy()
        names = spec.label_names
        deliver(EpochCurves(event.epoch, confusion_matrix(labels, scores, spec.task, names),
                            roc_curves(labels, scores, spec.task, names)))

    return on_event
