"""A model for a dataset, and a trained run's model ready for inference.

`load_for_run` is the one way to get a trained model back: the CLI's `infer` and `eval`, the app's
inference and `bench --run` all use it, so they run the same network (batch norm folded into the
convolutions unless `fold=False`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.data.catalog import get_spec
from engine.data.pipeline import Preprocessing
from engine.data.spec import DatasetSpec
from engine.device import pick_device
from engine.errors import UserError
from engine.models.registry import create_model
from engine.options import TrainConfig
from engine.runs.calibration import Calibration, read_calibration
from engine.runs.rundir import RunDir


def build_model(config: TrainConfig, spec: DatasetSpec) -> nn.Module:
    """The model a training config asks for, shaped for the dataset."""
    return create_model(
        config.model,
        in_channels=spec.n_channels,
        num_classes=spec.num_classes,
        spatial_dims=spec.spatial_dims,
        timesteps=config.timesteps,
        input_size=spec.size,
        **{k: tuple(v) if isinstance(v, list) else v for k, v in config.model_overrides.items()},
    )


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise UserError(f"The weights in {source} do not fit this model's architecture.") from exc


def ready_for_inference(model: nn.Module, fold: bool = True) -> nn.Module:
    """Evaluation mode, with batch norm folded into the convolutions where the model can (until `train()`)."""
    model.eval()
    if fold and hasattr(model, "fold_batch_norm"):
        model.fold_batch_norm()
    return model


@dataclass
class LoadedRun:
    """A trained model ready for inference, with everything needed to prepare its input."""

    path: Path
    model: nn.Module
    config: TrainConfig
    prep: Preprocessing
    task: str
    label_names: list[str]
    device: torch.device
    calibration: Calibration | None = None  # temperature scaling fitted on val (runs trained since it exists)

    @property
    def multi_label(self) -> bool:
        return self.task.startswith("multi-label")

    @property
    def temperature(self) -> float:
        return self.calibration.temperature if self.calibration is not None else 1.0


def load_for_run(run_dir: Path | str, fold: bool = True, tag: str = "best", device: str = "auto") -> LoadedRun:
    """The model of a run directory with its `tag` checkpoint's weights, on `device`, ready for inference."""
    run = RunDir(run_dir)
    saved = run.read_config()
    try:
        config = TrainConfig.from_dict(saved["train"])
        prep = Preprocessing(**saved["preprocessing"])
        labels = saved["dataset"]["labels"]
    except (KeyError, TypeError) as exc:
        raise UserError(f"The run {run.path} has an incomplete config.json (no {exc}).") from exc
    spec = get_spec(config.dataset, config.size)
    model = build_model(config, spec)
    load_weights(model, run.load_checkpoint(tag).model_state, run.path)
    torch_device = pick_device(device)
    model = ready_for_inference(model.to(torch_device), fold)
    names = [labels[str(i)] for i in range(len(labels))]
    if not names:
        raise UserError(f"The run {run.path} has no label names in its config.")
    return LoadedRun(run.path, model, config, prep, spec.task, names, torch_device, read_calibration(run.path))
