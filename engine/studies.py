"""Optuna studies in a real database, for every search in the engine (`spikeview-engine tune`, SNNDeep).

Storage: an SQLite file in the study folder by default, or any SQLAlchemy URL (e.g.
postgresql://user@host/db) so that workers on several machines share one study. Studies are created
with load_if_exists, so an interrupted search resumes where it stopped and only the missing trials run
(finished means complete or pruned). `run_workers` runs that many processes on this machine against
the same storage.
"""
from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from engine.errors import UserError

log = logging.getLogger(__name__)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
START_LINE_TIMEOUT_S = 600.0  # a worker that never reaches the start line holds the others back no longer


def default_storage(study_dir: Path) -> str:
    study_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(study_dir / 'optuna.db').resolve()}"


def _with_driver(url: str) -> str:
    """postgresql:// means psycopg2 to SQLAlchemy; where only psycopg (3) is installed, use that."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme) and importlib.util.find_spec("psycopg2") is None \
                and importlib.util.find_spec("psycopg") is not None:
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def open_storage(url: str) -> optuna.storages.BaseStorage:
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        return optuna.storages.RDBStorage(_with_driver(url), engine_kwargs=kwargs)
    except Exception as exc:  # noqa: BLE001 - any driver error means the URL cannot be used
        raise UserError(f"The study storage {url} cannot be opened ({exc.__class__.__name__}: {exc}).") from exc


def create_study(storage: str, name: str, seed: int) -> optuna.Study:
    """The study `name` (made if new): maximised, TPE sampling, median pruning after the first epoch."""
    return optuna.create_study(
        study_name=name,
        storage=open_storage(storage),
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=4),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )


def finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def optimize_until(study: optuna.Study, objective: Callable[[optuna.Trial], float], trials: int,
                   catch: tuple[type[Exception], ...] = (), callbacks: tuple[Callable, ...] = (),
                   start_line: threading.Barrier | None = None) -> None:
    """Run trials until the study (with every other worker's) holds `trials` finished ones.

    Workers of `run_workers` pass its `start_line` and begin together, so that the one that imported and
    loaded its data first does not take a short study alone.
    """
    if start_line is not None:
        _wait_for_the_other_workers(start_line)
    if finished_trials(study) < trials:
        study.optimize(objective, callbacks=[MaxTrialsCallback(trials, states=FINISHED), *callbacks], catch=catch)


def _wait_for_the_other_workers(start_line: threading.Barrier) -> None:
    try:
        start_line.wait(timeout=START_LINE_TIMEOUT_S)
    except threading.BrokenBarrierError:  # a worker ended before the line, or it timed out: go alone
        pass


def run_workers(target: Callable[..., None], args: tuple, workers: int, what: str,
                poll: Callable[[], None] | None = None) -> None:
    """`target(*args, index, start_line=barrier)` in `workers` fresh processes on this machine, `poll()`
    every second while they run; a worker that fails is a UserError naming `what`.

    The target hands `start_line` to `optimize_until`; once any worker has ended, the line is lifted
    so that none waits for it.
    """
    context = multiprocessing.get_context("spawn")
    start_line = context.Barrier(workers)
    processes = [context.Process(target=target, args=(*args, i), kwargs={"start_line": start_line})
                 for i in range(workers)]
    for process in processes:
        process.start()
    while any(p.is_alive() for p in processes):
        if not all(p.is_alive() for p in processes):
            start_line.abort()
        if poll is not None:
            poll()
        time.sleep(1.0)
    for process in processes:
        process.join()
    if any(p.exitcode for p in processes):
        raise UserError(f"A worker of {what} failed; see its log above.")
