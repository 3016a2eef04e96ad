"""Inference from a trained run on a dataset sample, an array, or a scan file, as the run was trained."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.data.catalog import get_spec
from engine.data.pipeline import Preprocessing, prepare_array
from engine.errors import UserError
from engine.learning.config import TrainConfig
from engine.learning.losses import scores_from_outputs
from engine.learning.trainer import build_model, pick_device
from engine.data.encoders import encode
from engine.probe.recorder import DEFAULT_MAX_NEURONS, record_sample
from engine.probe.recording import Recording
from engine.runs.rundir import RunDir, load_weights
from spikingjelly.activation_based import functional


@dataclass
class LoadedRun:
    """A trained model ready for inference, with everything needed to prepare its input."""

    path: Path
    model: torch.nn.Module
    config: TrainConfig
    prep: Preprocessing
    task: str
    label_names: list[str]
    device: torch.device

    @property
    def multi_label(self) -> bool:
        return self.task.startswith("multi-label")


def load_run(run_dir: Path | str, tag: str = "best", device: str = "auto") -> LoadedRun:
    run = RunDir(run_dir)
    saved = run.read_config()
    config = TrainConfig.from_dict(saved["train"])
    spec = get_spec(config.dataset, config.size)
    model = build_model(config, spec)
    load_weights(model, run.load_checkpoint(tag), run.path)
    torch_device = pick_device(device)
    model.to(torch_device).eval()
    labels = saved["dataset"]["labels"]
    return LoadedRun(run.path, model, config, Preprocessing(**saved["preprocessing"]), spec.task,
                     [labels[str(i)] for i in range(len(labels))], torch_device)


@dataclass
class InferenceResult:
    probabilities: np.ndarray
    predicted_label: int
    label_name: str
    model_input: np.ndarray  # [C, *spatial]: what the model actually saw
    recording: Recording | None = None

    def to_dict(self) -> dict:
        return {"probabilities": [float(p) for p in self.probabilities],
                "predicted_label": self.predicted_label, "label_name": self.label_name}


def read_input(source: str | Path | np.ndarray, split: str = "test", index: int = 0, geometry: str = "as_is") -> np.ndarray:
    """An array as is; a scan file through `engine.io.load` (NIfTI, DICOM, NRRD, PNG/JPEG, .npy; `geometry`
    as there); from a MedMNIST .npz file, sample `index` of `split`."""
    if isinstance(source, np.ndarray):
        return source
    from engine.io import load, load_medmnist_sample  # local: only file inputs need the scan readers

    path = Path(source)
    volume = load_medmnist_sample(path, split, index) if path.suffix == ".npz" else load(path, geometry=geometry)
    return np.asarray(volume.array)


def infer(run: LoadedRun | Path | str, source: str | Path | np.ndarray, record: bool = False,
          max_neurons: int = DEFAULT_MAX_NEURONS, split: str = "test", index: int = 0,
          geometry: str = "as_is") -> InferenceResult:
    """Classify an array or a file (for a MedMNIST .npz: sample `index` of `split`) with a trained run."""
    loaded = run if isinstance(run, LoadedRun) else load_run(run)
    sample = prepare_array(read_input(source, split, index, geometry), loaded.prep)
    return infer_prepared(loaded, sample, record, max_neurons)


@torch.no_grad()
def infer_prepared(loaded: LoadedRun, sample: torch.Tensor, record: bool = False,
                   max_neurons: int = DEFAULT_MAX_NEURONS) -> InferenceResult:
    """Inference on an already preprocessed sample [C, *spatial] in [0, 1] (e.g. a dataset item)."""
    cfg = loaded.config
    recording = None
    if record:
        recording = record_sample(loaded.model, sample, cfg.timesteps, cfg.encoder, loaded.device,
                                  loaded.label_names, loaded.multi_label, max_neurons)
        probabilities = recording.probabilities
    else:
        outputs = loaded.model(encode(sample.unsqueeze(0).to(loaded.device), cfg.timesteps, cfg.encoder))
        functional.reset_net(loaded.model)
        probabilities = scores_from_outputs(outputs.float(), loaded.multi_label)[0].cpu().numpy()
    predicted = int(np.argmax(probabilities))
    if not loaded.label_names:
        raise UserError(f"The run {loaded.path} has no label names in its config.")
    return InferenceResult(probabilities, predicted, loaded.label_names[predicted], sample.cpu().numpy(), recording)
