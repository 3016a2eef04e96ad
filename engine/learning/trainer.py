"""The Trainer: trains a model on a dataset split, picks the epoch on `val`, reports on `test`.

It emits `TrainEvent`s to callbacks (start, batch, epoch, probe, finished, cancelled, failed) and
stops cleanly when `stop()` is called from any thread. The CLI drives it with a progress bar; the
app drives it from a background thread and turns the events into Qt signals. A `SampleProbe` (the
app passes `engine.probe.recorder.record_sample`) records a validation sample's dynamics every
`probe_every` steps; without one there are no probe events.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from spikingjelly.activation_based import functional

from engine.data.catalog import get_spec
from engine.data.encoders import encode
from engine.data.pipeline import Preprocessing, SplitTensors, load_split_tensors, to_unit_float
from engine.data.transforms import AugmentConfig, augment, augmentation_for
from engine.device import autocast_for, pick_device
from engine.errors import UserError
from engine.learning.calibration import calibrate_run
from engine.learning.ema import WeightAverage
from engine.learning.evaluation import evaluate_split, metrics_from_logits, split_logits
from engine.learning.losses import LossTerms, balanced_class_weights, training_loss
from engine.learning.metrics import evaluate_scores
from engine.models import build_model, count_parameters
from engine.models.energy import estimate_energy
from engine.models.loading import load_weights
from engine.models.outputs import scores_from_outputs
from engine.options import TrainConfig
from engine.runs.rundir import RunDir
from engine.runs.selection import selection_score

log = logging.getLogger(__name__)
AVERAGE_TAG = "average"  # the checkpoint of the moving average of the weights (resume)


@dataclass
class TrainEvent:
    kind: str  # start | batch | epoch | probe | finished | cancelled | failed
    epoch: int = 0
    step: int = 0
    total_steps: int = 0
    metrics: dict = field(default_factory=dict)
    recording: object | None = None  # what the SampleProbe returned, for "probe" events
    message: str = ""


Callback = Callable[[TrainEvent], None]


class SampleProbe(Protocol):
    """Records one preprocessed sample's dynamics (`engine.probe.recorder.record_sample` is one)."""

    def __call__(self, model: torch.nn.Module, sample: torch.Tensor, timesteps: int, encoder: str,
                 device: torch.device, label_names: list[str], multi_label: bool) -> object: ...


def epoch_generator(seed: int, epoch: int, purpose: str) -> torch.Generator:
    """An independent random stream per (seed, epoch, purpose): a resumed run replays it exactly."""
    streams = {"order": 0, "augment": 1}
    return torch.Generator().manual_seed(((seed * 100_003 + epoch) * 2 + streams[purpose]) % 2**63)


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


class Trainer:
    def __init__(self, config: TrainConfig, run_dir: Path | str, callbacks: list[Callback] | None = None,
                 resume: bool = False, probe: SampleProbe | None = None) -> None:
        self.run_dir = RunDir(run_dir)
        if resume:  # the run's own settings win; only the epoch budget and the device may change
            saved = TrainConfig.from_dict(self.run_dir.read_config()["train"])
            saved.epochs, saved.device = max(config.epochs, saved.epochs), config.device
            config = saved
        config.validate()
        self.config = config
        self.callbacks = list(callbacks or [])
        self.resume = resume
        self.probe = probe
        self._stop = threading.Event()
        self.device = pick_device(config.device)

    @property
    def evaluated_model(self) -> torch.nn.Module:
        """The weights that are evaluated and saved as `best`: the moving average when there is one."""
        return self.average.model if self.average is not None else self.model

    def stop(self) -> None:
        """Ask the training to stop after the current batch (thread-safe)."""
        self._stop.set()

    def _emit(self, event: TrainEvent) -> None:
        for callback in self.callbacks:
            callback(event)

    def run(self) -> dict:
        try:
            return self._run()
        except Exception as exc:
            self._emit(TrainEvent("failed", message=str(exc)))
            raise

    # -- set-up ---------------------------------------------------------------------------
    def _load_data(self) -> None:
        cfg = self.config
        self.spec = get_spec(cfg.dataset, cfg.size)
        self.prep = Preprocessing.for_dataset(self.spec, cfg.enhance)
        root = Path(cfg.data_root) if cfg.data_root else None
        self.splits = {s: load_split_tensors(self.spec, s, self.prep, root) for s in ("train", "val", "test")}
        if cfg.train_limit:
            train = self.splits["train"]
            self.splits["train"] = SplitTensors(train.images[:cfg.train_limit], train.labels[:cfg.train_limit])

    def _run_config(self) -> dict:
        return {
            "train": self.config.to_dict(),
            "dataset": {"flag": self.spec.flag, "size": self.spec.size, "task": self.spec.task,
                        "labels": {str(k): v for k, v in self.spec.labels.items()},
                        "n_channels": self.spec.n_channels, "spatial_dims": self.spec.spatial_dims},
            "preprocessing": self.prep.to_dict(),
            "model": {"name": self.config.model, **self.model.cfg.to_dict()},
        }

    def _restore(self, optimizer: torch.optim.Optimizer, schedule: torch.optim.lr_scheduler.LambdaLR
                 ) -> tuple[int, float]:
        """Continue from the last checkpoint: returns (first epoch to run, best val score so far)."""
        if not self.run_dir.has_checkpoint("last"):
            raise UserError(f"Cannot resume: {self.run_dir.path} has no last checkpoint.")
        checkpoint = self.run_dir.load_checkpoint("last")
        load_weights(self.model, checkpoint.model_state, self.run_dir.path)
        optimizer.load_state_dict(checkpoint.optimizer_state)
        schedule.load_state_dict(checkpoint.info["scheduler"])
        start_epoch = checkpoint.info["epoch"] + 1
        self.run_dir.truncate_metrics(start_epoch)
        log.info("resuming %s at epoch %d", self.run_dir.path, start_epoch)
        return start_epoch, checkpoint.info.get("best_score", -math.inf)

    # -- the loop -------------------------------------------------------------------------
    def _batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        train = self.splits["train"]
        order = torch.randperm(len(train), generator=epoch_generator(self.config.seed, epoch, "order"))
        for start in range(0, len(order), self.config.batch_size):
            index = order[start:start + self.config.batch_size]
            yield train.images[index], train.labels[index]

    def _run(self) -> dict:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self._load_data()
        self.model = build_model(cfg, self.spec).to(self.device)
        self._prepare_loss_and_average()
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps_per_epoch = math.ceil(len(self.splits["train"]) / cfg.batch_size)
        total_steps = steps_per_epoch * cfg.epochs
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, warmup_cosine(total_steps, int(cfg.warmup_epochs * steps_per_epoch)))
        if self.resume:
            start_epoch, best_score = self._restore(optimizer, schedule)
            self._restore_average()
        else:
            start_epoch, best_score = 0, -math.inf
            self.run_dir.write_config(self._run_config())
        augment_cfg = augmentation_for(self.spec.labels, cfg.augment)
        self._emit(TrainEvent("start", epoch=start_epoch, total_steps=total_steps,
                              metrics={"parameters": count_parameters(self.model), "device": str(self.device)}))
        images_seen, train_seconds = 0, 0.0
        for epoch in range(start_epoch, cfg.epochs):
            gen = epoch_generator(cfg.seed, epoch, "augment")
            epoch_start = time.perf_counter()
            train_loss, count, seen_labels, seen_scores = 0.0, 0, [], []
            self.model.train()
            for batch_index, (images, labels) in enumerate(self._batches(epoch)):
                if self._stop.is_set():
                    return self._finish_cancelled(epoch, best_score)
                loss, scores = self._train_step(images, labels, optimizer, augment_cfg, gen)
                schedule.step()
                if self.average is not None:
                    self.average.update(self.model)
                train_loss += loss * len(labels)
                count += len(labels)
                seen_labels.append(labels.numpy())
                seen_scores.append(scores)
                step = epoch * steps_per_epoch + batch_index + 1
                self._emit(TrainEvent("batch", epoch=epoch, step=step, total_steps=total_steps,
                                      metrics={"loss": loss, "lr": schedule.get_last_lr()[0]}))
                if self.probe is not None and cfg.probe_every and step % cfg.probe_every == 0:
                    self._emit_probe(epoch, step, total_steps)
            seconds = time.perf_counter() - epoch_start
            images_seen += count
            train_seconds += seconds
            val = evaluate_split(self.evaluated_model, self.splits["val"], self.spec, cfg, self.device)
            score = selection_score(val["acc"], val["auc"])
            improved = score > best_score
            best_score = max(best_score, score)
            train = evaluate_scores(np.concatenate(seen_labels), np.concatenate(seen_scores), self.spec.task)
            row = {"epoch": epoch, "train_loss": train_loss / max(count, 1), "train_acc": train["acc"],
                   "train_auc": train["auc"], "seconds": seconds, "images_per_s": count / seconds,
                   **{f"val_{k}": v for k, v in val.items()}}
            self.run_dir.append_metrics(row)
            info = {"epoch": epoch, "best_score": best_score, "val": val, "scheduler": schedule.state_dict()}
            self.run_dir.save_checkpoint("last", self.model, info, optimizer)
            if self.average is not None:
                self.run_dir.save_checkpoint(AVERAGE_TAG, self.average.model, {"updates": self.average.updates})
            if improved:
                self.run_dir.save_checkpoint("best", self.evaluated_model, info)
            self._emit(TrainEvent("epoch", epoch=epoch, step=(epoch + 1) * steps_per_epoch,
                                  total_steps=total_steps, metrics=row))
        return self._finish(images_seen / train_seconds if train_seconds else float("nan"))

    def _train_step(self, images: torch.Tensor, labels: torch.Tensor, optimizer: torch.optim.Optimizer,
                    augment_cfg: AugmentConfig, gen: torch.Generator) -> tuple[float, np.ndarray]:
        """One optimisation step; returns the loss and the batch's class probabilities (for train ACC/AUC)."""
        cfg = self.config
        batch = augment(to_unit_float(images), augment_cfg, gen).to(self.device)
        labels = labels.to(self.device)
        batch, terms = self._mixup(batch, labels, gen)
        with autocast_for(self.device):
            outputs = self.model(encode(batch, cfg.timesteps, cfg.encoder, gen)).float()
        loss = training_loss(cfg.loss, outputs, labels, self.spec.multi_label, cfg.tet_lambda, cfg.tet_phi, terms)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        functional.reset_net(self.model)
        return loss.item(), scores_from_outputs(outputs.detach(), self.spec.multi_label).cpu().numpy()

    # -- loss extras and weight averaging ------------------------------------------------
    def _prepare_loss_and_average(self) -> None:
        cfg = self.config
        weights = None
        if cfg.class_weights == "balanced":
            weights = balanced_class_weights(self.splits["train"].labels.numpy(), self.spec.num_classes,
                                             self.spec.multi_label).to(self.device)
        self.loss_terms = LossTerms(cfg.label_smoothing, weights)
        steps_per_epoch = math.ceil(len(self.splits["train"]) / cfg.batch_size)
        decay = 1 - 1 / max(cfg.ema_epochs * steps_per_epoch, 1)
        self.average = WeightAverage(self.model, decay) if cfg.ema_epochs > 0 else None

    def _restore_average(self) -> None:
        if self.average is not None and self.run_dir.has_checkpoint(AVERAGE_TAG):
            saved = self.run_dir.load_checkpoint(AVERAGE_TAG)
            load_weights(self.average.model, saved.model_state, self.run_dir.path)
            self.average.updates = saved.info.get("updates", 0)

    def _mixup(self, batch: torch.Tensor, labels: torch.Tensor, gen: torch.Generator
               ) -> tuple[torch.Tensor, LossTerms]:
        """Blend each image with a partner from the batch (mixup); the loss weighs both labels alike."""
        alpha = self.config.mixup
        if alpha <= 0:
            return batch, self.loss_terms
        mix = float(np.random.default_rng(int(torch.randint(2**31, (1,), generator=gen))).beta(alpha, alpha))
        partner = torch.randperm(len(batch), generator=gen).to(batch.device)
        terms = LossTerms(self.loss_terms.label_smoothing, self.loss_terms.class_weights, labels[partner], mix)
        return mix * batch + (1 - mix) * batch[partner], terms

    def _emit_probe(self, epoch: int, step: int, total_steps: int) -> None:
        sample = to_unit_float(self.splits["val"].images[:1])[0]
        names = [self.spec.labels[i] for i in sorted(self.spec.labels)]
        recording = self.probe(self.model, sample, self.config.timesteps, self.config.encoder, self.device,
                               label_names=names, multi_label=self.spec.multi_label)
        self.model.train()
        self._emit(TrainEvent("probe", epoch=epoch, step=step, total_steps=total_steps, recording=recording))

    def _finish(self, images_per_s: float) -> dict:
        best = self.run_dir.load_checkpoint("best")
        load_weights(self.model, best.model_state, self.run_dir.path)
        val = best.info["val"]
        test_logits, test_loss = split_logits(self.model, self.splits["test"], self.spec, self.config, self.device)
        test = metrics_from_logits(test_logits, test_loss, self.splits["test"], self.spec)
        calibration = calibrate_run(self.model, self.splits, self.spec, self.config, self.device, self.run_dir,
                                    test_logits)
        summary = {
            "status": "finished",
            "dataset": self.spec.flag,
            "size": self.spec.size,
            "model": self.config.model,
            "parameters": count_parameters(self.model),
            "epochs": self.config.epochs,
            "best_epoch": best.info["epoch"],
            **{f"val_{k}": v for k, v in val.items()},
            **{f"test_{k}": v for k, v in test.items()},
            "train_images_per_s": images_per_s,
            "energy": self._energy(),
            "calibration": calibration.summary(),
            "train_seconds": sum(r["seconds"] for r in self.run_dir.read_metrics()),
            "run_dir": str(self.run_dir.path),
        }
        self._emit(TrainEvent("finished", epoch=self.config.epochs - 1, metrics=summary))
        return summary

    def _energy(self) -> dict:
        """Synaptic operations and energy per inference, measured on a few validation samples."""
        images = to_unit_float(self.splits["val"].images[:16]).to(self.device)
        return estimate_energy(self.model, encode(images, self.config.timesteps, self.config.encoder)).to_dict()

    def _finish_cancelled(self, epoch: int, best_score: float) -> dict:
        summary = {"status": "cancelled", "dataset": self.spec.flag, "model": self.config.model,
                   "epoch": epoch, "best_score": best_score, "run_dir": str(self.run_dir.path)}
        self._emit(TrainEvent("cancelled", epoch=epoch, metrics=summary, message="Training was cancelled."))
        return summary
