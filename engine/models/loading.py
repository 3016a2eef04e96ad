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
from engine.data.domain import InputDomain, dataset_domain
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
        raise UserError(f"The weights in {source} do not fit the model its config.json describes "
                        f"({_first_misfit(model.state_dict(), state)}).") from exc


CLASSIFIER = "head."  # the layer that maps a model's features to its classes


def start_from_run(model: nn.Module, source: Path | str, label_names: list[str]) -> int:
    """Give a freshly built `model` the best weights of the trained run in `source` (fine-tuning): every
    layer, the classifier too when the run was trained on the same labels (else it keeps its fresh
    weights). The two models must be the same but for the classifier. Returns the tensors taken."""
    run = RunDir(source)
    source_labels = read_run_settings(run).label_names
    state = run.load_checkpoint("best").model_state
    expected = model.state_dict()
    if source_labels != label_names:
        state = {k: v for k, v in state.items() if not k.startswith(CLASSIFIER)}
        expected = {k: v for k, v in expected.items() if not k.startswith(CLASSIFIER)}
    if state.keys() != expected.keys() or any(state[k].shape != v.shape for k, v in expected.items()):
        raise UserError(f"The run {run.path.name} has another model than the one this training builds, so its "
                        f"weights cannot start it ({_first_misfit(expected, state)}).")
    model.load_state_dict(state, strict=False)
    return len(state)


def _first_misfit(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str:
    """The first weight that differs between a model and a checkpoint, in words."""
    def shape(tensor: torch.Tensor) -> str:
        return " x ".join(map(str, tensor.shape)) or "a single number"

    for name, tensor in expected.items():
        if name not in found:
            return f"{name} is missing"
        if found[name].shape != tensor.shape:
            return f"{name} is {shape(found[name])} there but {shape(tensor)} in the model"
    extra = next(iter(found.keys() - expected.keys()), "?")
    return f"{extra} belongs to no layer of the model"


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
    domain: InputDomain  # what the model was trained on (`recorded` is False for runs older than the record)
    calibration: Calibration | None = None  # temperature scaling fitted on val (runs trained since it exists)

    @property
    def multi_label(self) -> bool:
        return self.task.startswith("multi-label")

    @property
    def temperature(self) -> float:
        return self.calibration.temperature if self.calibration is not None else 1.0


@dataclass
class RunSettings:
    """What a run's config.json says about its model's inputs and outputs, checked."""

    config: TrainConfig
    prep: Preprocessing
    spec: DatasetSpec
    label_names: list[str]
    domain: InputDomain


def read_run_settings(run: RunDir) -> RunSettings:
    saved = run.read_config()
    config = run.train_config()
    try:
        prep = Preprocessing(**saved["preprocessing"])
        labels = saved["dataset"]["labels"]
        names = [str(labels[str(i)]) for i in range(len(labels))]
    except (KeyError, TypeError) as exc:
        raise UserError(f"The run {run.path.name} has damaged preprocessing or label settings in its "
                        "config.json.") from exc
    if not names:
        raise UserError(f"The run {run.path.name} has no label names in its config.json.")
    spec = get_spec(config.dataset, config.size)
    return RunSettings(config, prep, spec, names, _read_domain(saved, spec, prep, run.path))


def run_domain(run_dir: Path | str) -> InputDomain:
    """What a run's model was trained on, read from its config.json alone (no weights are loaded)."""
    return read_run_settings(RunDir(run_dir)).domain


def load_for_run(run_dir: Path | str, fold: bool = True, tag: str = "best", device: str = "auto") -> LoadedRun:
    """The model of a run directory with its `tag` checkpoint's weights, on `device`, ready for inference."""
    run = RunDir(run_dir)
    settings = read_run_settings(run)
    model = build_model(settings.config, settings.spec)
    load_weights(model, run.load_checkpoint(tag).model_state, run.path)
    torch_device = pick_device(device)
    model = ready_for_inference(model.to(torch_device), fold)
    return LoadedRun(run.path, model, settings.config, settings.prep, settings.spec.task, settings.label_names,
                     torch_device, settings.domain,
                     read_calibration(run.path))


def _read_domain(saved: dict, spec: DatasetSpec, prep: Preprocessing, path: Path) -> InputDomain:
    """A run's recorded input domain; for a run older than the record, what its config says of its dataset."""
    if "domain" not in saved:
        domain = dataset_domain(spec, prep.enhance)
        domain.recorded = False
        return domain
    try:
        return InputDomain.from_dict(saved["domain"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"The run {path.name} has a damaged input-domain record in its config.json.") from exc
