"""Crash-safe runs: a training killed with SIGKILL mid-epoch resumes from its last complete epoch and ends
where an uninterrupted run of the same seed ends; one training per run folder; a stale lock is taken
over; a cancelled run is marked so and resumes; every file of a run is written whole or not at all."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from engine.cli import main
from engine.errors import UserError
from engine.learning.trainer import Trainer
from engine.options import TrainConfig
from engine.runs.listing import list_runs
from engine.runs.lock import LOCK, RunLock
from engine.runs.rundir import RunDir

ENGINE = str(Path(sys.executable).parent / "spikeview-engine")
TIMING = ("seconds", "images_per_s")  # the only columns allowed to differ between two runs of one seed


def _train_argv(run: Path, *extra: str) -> list[str]:
    return [ENGINE, "train", "--dataset", "phantom2d", "--epochs", "3", "--batch-size", "10", "--train-limit", "600",
            "--model-options", '{"dims": [8, 16, 32], "heads": 2}', "--device", "cpu", "--seed", "3",
            "--out", str(run), "--exact-out", *extra]


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1"}  # the same arithmetic in every process


def _train(run: Path, *extra: str) -> dict:
    done = subprocess.run(_train_argv(run, *extra), capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _kill_during_epoch(run: Path, epoch: int) -> None:
    """Start a training and SIGKILL it once its progress bar shows a batch of `epoch` (so mid-epoch)."""
    process = subprocess.Popen(_train_argv(run), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    seen = threading.Event()

    def watch() -> None:
        progress = b""
        while chunk := process.stderr.read1(4096):
            progress = (progress + chunk)[-400:]
            if f"epoch={epoch}".encode() in progress:
                seen.set()
                process.send_signal(signal.SIGKILL)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    process.wait(timeout=300)
    watcher.join(5)
    process.stderr.close()
    assert seen.is_set() and process.returncode == -signal.SIGKILL, "the training ended before it was killed"


def _rows_without_timing(run: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in RunDir(run).read_metrics()]


@pytest.mark.slow
def test_a_training_killed_mid_epoch_resumes_and_ends_where_an_uninterrupted_one_ends(tmp_path: Path) -> None:
    uninterrupted = _train(tmp_path / "uninterrupted")

    killed = tmp_path / "killed"
    _kill_during_epoch(killed, epoch=1)
    run = RunDir(killed)
    assert run.load_checkpoint("last").info["epoch"] == 0, "the last complete epoch is the first"
    assert [row["epoch"] for row in run.read_metrics()] == [0]
    assert (killed / LOCK).exists(), "the killed training could not remove its lock"
    assert [summary.describe_state() for summary in list_runs(tmp_path) if summary.name == "killed"] == \
        ["interrupted after 1 of 3 epochs (resumable)"]

    resumed = _train(killed, "--resume")  # takes over the dead training's lock
    for key in ("best_epoch", "val_acc", "val_auc", "val_loss", "test_acc", "test_auc", "test_loss"):
        assert resumed[key] == uninterrupted[key], key
    assert _rows_without_timing(killed) == _rows_without_timing(tmp_path / "uninterrupted")
    for tag in ("best", "last"):
        ours, theirs = RunDir(killed).load_checkpoint(tag), RunDir(tmp_path / "uninterrupted").load_checkpoint(tag)
        assert ours.model_state.keys() == theirs.model_state.keys()
        assert all(torch.equal(ours.model_state[k], theirs.model_state[k]) for k in ours.model_state), tag
    assert not (killed / LOCK).exists() and not list(killed.glob(".*.tmp"))


@pytest.mark.slow
def test_a_second_training_on_a_run_folder_in_use_gets_one_sentence(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    process = subprocess.Popen(_train_argv(run), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    try:
        while not (run / LOCK).exists() or not (run / LOCK).read_text():
            assert process.poll() is None, "the first training ended early"
            time.sleep(0.01)
        code = main(["train", "--dataset", "phantom2d", "--epochs", "1", "--device", "cpu", "--out", str(run),
                     "--exact-out"])
        err = capsys.readouterr().err.strip()
        assert code == 2
        assert err == (f"error: The run folder {run} is in use by another training (process {process.pid}); "
                       "wait for it to end or choose another folder.")
    finally:
        process.kill()
        process.wait()


def _quick(**changes) -> TrainConfig:
    values = dict(dataset="phantom2d", epochs=2, batch_size=50, train_limit=150, device="cpu",
                  model_overrides={"dims": [8, 16, 32], "heads": 2})
    return TrainConfig(**{**values, **changes})


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK).write_text(json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename, "since": 0}))
    (run / ".last.safetensors.tmp").write_bytes(b"half a checkpoint")  # what a killed write leaves
    Trainer(_quick(epochs=1), run).run()
    assert not (run / LOCK).exists() and not (run / ".last.safetensors.tmp").exists()
    assert RunDir(run).load_checkpoint("last").info["epoch"] == 0


def test_one_training_per_run_folder_within_a_process(tmp_path: Path) -> None:
    with RunLock(tmp_path / "run"):
        with pytest.raises(UserError, match=f"process {os.getpid()}"):
            Trainer(_quick(), tmp_path / "run").run()
    assert not (tmp_path / "run").exists(), "a folder made only for the lock is removed again"


def test_a_cancelled_run_is_marked_and_resumes_to_the_same_end(tmp_path: Path) -> None:
    straight = Trainer(_quick(), tmp_path / "straight").run()

    class CancelAtFirstBatch:
        trainer: Trainer | None = None

        def __call__(self, event) -> None:
            if event.kind == "batch":
                self.trainer.stop()

    cancel = CancelAtFirstBatch()
    trainer = Trainer(_quick(), tmp_path / "cancelled", callbacks=[cancel])
    cancel.trainer = trainer
    assert trainer.run()["status"] == "cancelled"
    (summary,) = [s for s in list_runs(tmp_path) if s.name == "cancelled"]
    assert summary.state == "cancelled" and summary.resumable and not summary.has_last
    assert summary.describe_state() == "cancelled after 0 of 2 epochs (resumable)"
    resumed = Trainer(_quick(), tmp_path / "cancelled", resume=True).run()  # from its seed: no epoch was saved
    assert resumed["val_loss"] == straight["val_loss"] and resumed["test_acc"] == straight["test_acc"]
    (summary,) = [s for s in list_runs(tmp_path) if s.name == "cancelled"]
    assert summary.state == "finished" and RunDir(tmp_path / "cancelled").read_status() == {}


def test_files_are_written_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    """A write that dies half-way (here: an exception in the middle of the safetensors file) leaves the
    previous checkpoint and metrics untouched, and no temporary file."""
    Trainer(_quick(epochs=1), tmp_path / "run").run()
    run = RunDir(tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.path.iterdir()}
    import engine.runs.rundir as rundir

    def dies_half_way(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"\0" * 1000)
        raise KeyboardInterrupt  # as abrupt as it gets inside Python

    monkeypatch.setattr(rundir, "save_file", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        run.commit_epoch({"epoch": 1}, torch.nn.Linear(2, 2), {"epoch": 1}, torch.optim.SGD([torch.zeros(1)], 0.1), True)
    assert {p.name: p.read_bytes() for p in run.path.iterdir()} == before
