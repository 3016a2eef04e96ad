"""Training on real MedMNIST files: learning, checkpoints, resume, cancel, events."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.errors import UserError
from engine.learning.trainer import Trainer, TrainEvent
from engine.models import load_for_run
from engine.options import TrainConfig
from engine.probe.recorder import record_sample
from engine.runs.rundir import RunDir


def _majority(medmnist_root, flag: str) -> float:
    labels = np.load(medmnist_root / f"{flag}.npz")["val_labels"][:, 0]
    return np.bincount(labels).max() / len(labels)


@pytest.mark.slow
@pytest.mark.parametrize("flag,epochs,batch", [("breastmnist", 25, 32), ("adrenalmnist3d", 12, 32)])
def test_tiny_model_beats_the_majority_class_on_val(flag, epochs, batch, medmnist_root, tmp_path):
    config = TrainConfig(dataset=flag, data_root=str(medmnist_root), epochs=epochs, batch_size=batch,
                         lr=5e-3, device="cpu")
    summary = Trainer(config, tmp_path / "run").run()
    assert summary["val_acc"] > _majority(medmnist_root, flag)
    assert summary["val_auc"] > 0.6
    assert 0 <= summary["best_epoch"] < epochs and summary["test_acc"] > 0


def _quick_config(**changes) -> TrainConfig:
    values = dict(dataset="phantom2d", epochs=2, batch_size=50, train_limit=200, device="cpu",
                  model_overrides={"dims": [8, 16, 32], "heads": 2})
    values.update(changes)
    return TrainConfig(**values)


def test_events_run_directory_and_checkpoint_round_trip(tmp_path):
    events: list[TrainEvent] = []
    summary = Trainer(_quick_config(probe_every=3), tmp_path / "run", callbacks=[events.append],
                      probe=record_sample).run()
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "finished"
    assert kinds.count("epoch") == 2 and kinds.count("batch") == 8 and kinds.count("probe") == 2
    run = RunDir(tmp_path / "run")
    config = run.read_config()
    assert config["train"]["dataset"] == "phantom2d" and config["preprocessing"]["input_size"] == 28
    assert [row["epoch"] for row in run.read_metrics()] == [0, 1]
    assert all(0 <= row["train_acc"] <= 1 and "train_auc" in row for row in run.read_metrics())
    for tag in ("best", "last"):
        assert (tmp_path / "run" / f"{tag}.safetensors").exists()
        assert json.loads((tmp_path / "run" / f"{tag}.json").read_text())["info"]["epoch"] in (0, 1)
    # the saved weights reproduce the evaluation exactly
    loaded = load_for_run(tmp_path / "run", fold=False, device="cpu")
    for name, tensor in loaded.model.state_dict().items():
        assert torch.equal(tensor, run.load_checkpoint("best").model_state[name])
    assert summary["best_epoch"] == run.load_checkpoint("best").info["epoch"]
    probe = next(e for e in events if e.kind == "probe").recording
    assert probe.layers and probe.attention


def test_resume_continues_from_the_last_checkpoint(tmp_path):
    full = Trainer(_quick_config(epochs=3), tmp_path / "full").run()

    class StopAfterFirstEpoch:
        def __init__(self):
            self.trainer = None

        def __call__(self, event):
            if event.kind == "epoch" and event.epoch == 0:
                self.trainer.stop()

    stopper = StopAfterFirstEpoch()
    trainer = Trainer(_quick_config(epochs=3), tmp_path / "resumed", callbacks=[stopper])
    stopper.trainer = trainer
    assert trainer.run()["status"] == "cancelled"
    assert [r["epoch"] for r in RunDir(tmp_path / "resumed").read_metrics()] == [0]
    resumed = Trainer(_quick_config(epochs=3), tmp_path / "resumed", resume=True).run()
    assert [r["epoch"] for r in RunDir(tmp_path / "resumed").read_metrics()] == [0, 1, 2]
    # same data order, same schedule, same optimizer state: the same final metrics
    assert resumed["test_acc"] == pytest.approx(full["test_acc"])
    assert resumed["val_loss"] == pytest.approx(full["val_loss"], rel=1e-4)


def test_resume_without_a_run_is_one_sentence(tmp_path):
    with pytest.raises(UserError, match="not a SpikeView run"):
        Trainer(_quick_config(), tmp_path / "nothing", resume=True)


def test_corrupt_checkpoint_is_refused(tmp_path):
    Trainer(_quick_config(epochs=1), tmp_path / "run").run()
    weights = tmp_path / "run" / "best.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(UserError, match="damaged"):
        load_for_run(tmp_path / "run", device="cpu")


def test_failure_is_reported_as_an_event(tmp_path):
    events: list[TrainEvent] = []
    with pytest.raises(UserError):
        Trainer(_quick_config(dataset="nosuchmnist"), tmp_path / "run", callbacks=[events.append]).run()
    assert events[-1].kind == "failed" and "nosuchmnist" in events[-1].message


def test_bf16_training_follows_fp32_and_says_its_number_format(tmp_path):
    events: list[TrainEvent] = []
    Trainer(_quick_config(precision="bf16", epochs=3), tmp_path / "bf16", callbacks=[events.append]).run()
    Trainer(_quick_config(precision="fp32", epochs=3), tmp_path / "fp32").run()
    assert events[0].metrics["precision"] == "bf16"
    bf16, fp32 = ([row["train_loss"] for row in RunDir(tmp_path / name).read_metrics()] for name in ("bf16", "fp32"))
    assert all(np.isfinite(bf16)) and bf16[-1] < bf16[0]
    assert bf16 == pytest.approx(fp32, rel=0.05)  # the same seed and batches: the same course, within rounding
    assert bf16 != fp32  # ... and it was computed in bfloat16
    weights = load_for_run(tmp_path / "bf16", fold=False, device="cpu").model.parameters()
    assert all(t.dtype == torch.float32 for t in weights)  # autocast: the weights stay float32


def test_wrong_options_are_refused():
    with pytest.raises(UserError, match="--epochs"):
        Trainer(_quick_config(epochs=0), "unused")
    with pytest.raises(UserError, match="--loss"):
        Trainer(_quick_config(loss="hinge"), "unused")
    with pytest.raises(UserError, match="--precision"):
        Trainer(_quick_config(precision="fp16"), "unused")
