"""The runs folder: list past run directories with their state, name new ones, export metrics.

A run's state comes from its files: `running` while a live training holds its lock, `finished` once
every planned epoch is done, `cancelled` when a training was stopped on request (`status.json`), and
`interrupted` when it ended otherwise (killed, a crash, a full disk). A run that is not finished can be
resumed: from its last complete epoch, or from the beginning when none was saved. A damaged run is
listed as `unreadable`, with the sentence that says why.
"""
from __future__ import annotations

import csv
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError
from engine.runs.lock import held_by_a_live_process
from engine.runs.rundir import CONFIG, RunDir
from engine.runs.selection import selection_score

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    path: Path
    dataset: str
    model: str
    epochs_done: int
    epochs_planned: int
    best_val_acc: float
    best_val_auc: float
    has_best: bool
    has_last: bool
    modified: float
    running: bool = False
    cancelled: bool = False
    problem: str = ""  # why an unreadable run cannot be used, in one sentence

    @staticmethod
    def unreadable(path: Path, problem: str) -> "RunSummary":
        return RunSummary(Path(path), "?", "?", 0, 0, math.nan, math.nan, False, False,
                          _modified(Path(path)), problem=problem)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def complete(self) -> bool:
        return self.epochs_done >= self.epochs_planned and self.has_best

    @property
    def state(self) -> str:
        """running | finished | cancelled | interrupted | unreadable"""
        if self.problem:
            return "unreadable"
        if self.running:
            return "running"
        if self.complete:
            return "finished"
        return "cancelled" if self.cancelled else "interrupted"

    @property
    def resumable(self) -> bool:
        return self.state in ("cancelled", "interrupted")

    def describe_state(self) -> str:
        """The state in words, for a runs list: "cancelled after 3 of 10 epochs (resumable)"."""
        if self.state in ("running", "finished", "unreadable"):
            return self.state
        return f"{self.state} after {self.epochs_done} of {self.epochs_planned} epochs (resumable)"


def default_runs_folder(data_root: Path) -> Path:
    return Path(data_root) / "runs"


def summarize_run(path: Path) -> RunSummary:
    run = RunDir(path)
    config = run.read_config()
    rows = run.read_metrics()
    best = max(rows, key=lambda r: selection_score(r.get("val_acc", 0.0), r.get("val_auc", math.nan)), default={})
    train = config["train"]
    return RunSummary(
        path=Path(path), dataset=train.get("dataset", "?"), model=train.get("model", "?"),
        epochs_done=len(rows), epochs_planned=int(train.get("epochs", 0)),
        best_val_acc=float(best.get("val_acc", float("nan"))), best_val_auc=float(best.get("val_auc", float("nan"))),
        has_best=run.has_checkpoint("best"), has_last=run.has_checkpoint("last"),
        modified=_modified(Path(path)),
        running=held_by_a_live_process(path), cancelled=run.read_status().get("state") == "cancelled",
    )


def _modified(path: Path) -> float:
    try:
        return (path / CONFIG).stat().st_mtime
    except OSError:
        return 0.0


def list_runs(folder: Path | str) -> list[RunSummary]:
    """Run directories directly under `folder`, newest first; damaged ones say why they are unreadable."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    runs = []
    for path in folder.iterdir():
        if not (path / CONFIG).is_file():
            continue
        try:
            runs.append(summarize_run(path))
        except (UserError, ValueError, OSError) as exc:
            log.warning("run %s is unreadable: %s", path, exc)
            message = str(exc) if isinstance(exc, UserError) else f"The run {path.name} cannot be read ({exc})."
            runs.append(RunSummary.unreadable(path, message))
    return sorted(runs, key=lambda r: r.modified, reverse=True)


def new_run_path(folder: Path | str, dataset: str, size: int, model: str) -> Path:
    """A fresh, not yet existing directory such as `breastmnist_28-sdt_tiny-20250101-120000`."""
    stem = f"{dataset}_{size}-{model}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = Path(folder) / stem, 1
    while path.exists():
        n += 1
        path = Path(folder) / f"{stem}-{n}"
    return path


def write_metrics_csv(run_dir: Path | str, destination: Path | str) -> Path:
    """metrics.jsonl as CSV (one row per epoch, the union of all columns)."""
    rows = RunDir(run_dir).read_metrics()
    if not rows:
        raise UserError(f"{run_dir} has no metrics yet.")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    destination = Path(destination)
    with open(destination, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return destination
