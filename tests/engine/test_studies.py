"""`run_workers`: the workers of one study start their trials together, whatever their start-up time."""
import time

import optuna

from engine.studies import create_study, default_storage, optimize_until, run_workers

SLOW_START_S = 5.0  # the first worker's start-up (imports, data) against instant ones for the others


def _worker_with_slow_start(storage: str, trials: int, index: int, start_line=None) -> None:
    if index == 0:
        time.sleep(SLOW_START_S)
    study = create_study(storage, "start-line", seed=index)

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", index)
        time.sleep(0.5)  # a trial's work
        return float(index)

    optimize_until(study, objective, trials, start_line=start_line)


def test_a_slow_starting_worker_still_gets_trials(tmp_path):
    storage = default_storage(tmp_path)
    run_workers(_worker_with_slow_start, (storage, 4), workers=2, what="the test study")
    study = optuna.load_study(study_name="start-line", storage=storage)
    workers = [t.user_attrs["worker"] for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(workers) >= 4
    assert set(workers) == {0, 1}  # without the start line the quick worker finishes all 4 before the slow one
