"""How the epochs of a run are compared on `val`: the one rule for the `best` checkpoint and the runs list."""
from __future__ import annotations

import math


def selection_score(acc: float, auc: float) -> float:
    """The mean of ACC and AUC; an undefined AUC (NaN, a one-class split) counts as chance, 0.5."""
    return (acc + (0.5 if math.isnan(auc) else auc)) / 2
