"""Classification metrics and resource measurements (time, peak memory)."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def binary_metrics(y_true: np.ndarray, score: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, ROC-AUC and PR-AUC (NaN where one class is absent)."""
    y_true = np.asarray(y_true).astype(int)
    both = len(np.unique(y_true)) == 2
    recalls = [float((predicted[y_true == c] == c).mean()) for c in (0, 1) if (y_true == c).any()]
    return {
        "acc": float((predicted == y_true).mean()),
        "balanced_acc": float(np.mean(recalls)),
        "roc_auc": float(roc_auc_score(y_true, score)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y_true, score)) if both else float("nan"),
    }


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: fall back to the process peak
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """Peak resident memory above the level at entry, sampled every few ms by a thread (CPU tensors
    are invisible to tracemalloc, and ru_maxrss never goes down across runs)."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.baseline = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "PeakMemory":
        self.baseline = self.peak = _rss_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak = max(self.peak, _rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def peak_mb(self) -> float:
        return (self.peak - self.baseline) / 2**20


@dataclass
class EpochTimer:
    """Accumulates training seconds per epoch (evaluation excluded)."""

    seconds: list[float]

    def __init__(self) -> None:
        self.seconds = []
        self._start = 0.0

    def start(self) -> None:
        self._start = time.perf_counter()

    def stop(self) -> None:
        self.seconds.append(time.perf_counter() - self._start)

    @property
    def mean(self) -> float:
        return float(np.mean(self.seconds)) if self.seconds else float("nan")
