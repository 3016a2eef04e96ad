"""Inference from a trained run on a dataset sample, an array, or a scan file, as the run was trained.

The model comes from `engine.models.load_for_run` (batch norm folded), the input goes through the
run's own preprocessing; the recorded dynamics and the energy of the inference are optional. The
probabilities are computed as the run was evaluated (averaged over its test-time views), and also
divided by the run's calibration temperature where it has one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from spikingjelly.activation_based import functional

from engine.data.catalog import get_spec, load_split
from engine.data.encoders import encode
from engine.data.pipeline import prepare_array
from engine.data.transforms import tta_flips
from engine.errors import UserError
from engine.models.energy import EnergyReport
from engine.models.loading import LoadedRun, load_for_run
from engine.models.outputs import probabilities_from_logits
from engine.probe.analysis import sample_energy
from engine.probe.recorder import DEFAULT_MAX_NEURONS, record_sample
from engine.probe.recording import Recording


@dataclass
class InferenceResult:
    probabilities: np.ndarray
    predicted_label: int
    label_name: str
    model_input: np.ndarray  # [C, *spatial]: what the model actually saw
    recording: Recording | None = None
    energy: EnergyReport | None = None
    calibrated_probabilities: np.ndarray | None = None  # after the run's temperature scaling, if it has one
    temperature: float = 1.0

    def to_dict(self) -> dict:
        out = {"probabilities": [float(p) for p in self.probabilities],
               "predicted_label": self.predicted_label, "label_name": self.label_name}
        if self.calibrated_probabilities is not None:
            out["calibrated_probabilities"] = [float(p) for p in self.calibrated_probabilities]
            out["temperature"] = self.temperature
        return out


def read_input(source: str | Path | np.ndarray, split: str = "test", index: int = 0, geometry: str = "as_is") -> np.ndarray:
    """An array as is; a scan file through `engine.io.load` (NIfTI, DICOM, NRRD, PNG/JPEG, .npy; `geometry`
    as there); from a MedMNIST .npz file, sample `index` of `split`."""
    if isinstance(source, np.ndarray):
        return source
    from engine.io import load, load_medmnist_sample  # local: only file inputs need the scan readers

    path = Path(source)
    volume = load_medmnist_sample(path, split, index) if path.suffix == ".npz" else load(path, geometry=geometry)
    return np.asarray(volume.array)


def run_dataset_sample(loaded: LoadedRun, split: str, index: int) -> tuple[np.ndarray, str]:
    """Sample `index` of `split` of the dataset the run was trained on, and a short description of it."""
    cfg = loaded.config
    spec = get_spec(cfg.dataset, cfg.size)
    images, _labels = load_split(spec, split, Path(cfg.data_root) if cfg.data_root else None)
    if not 0 <= index < len(images):
        raise UserError(f"The {split} split has {len(images)} samples; #{index} does not exist.")
    return images[index], f"{spec.flag} {split} #{index}"


def infer(run: LoadedRun | Path | str, source: str | Path | np.ndarray, record: bool = False,
          max_neurons: int = DEFAULT_MAX_NEURONS, split: str = "test", index: int = 0,
          geometry: str = "as_is", energy: bool = False) -> InferenceResult:
    """Classify an array or a file (for a MedMNIST .npz: sample `index` of `split`) with a trained run."""
    loaded = run if isinstance(run, LoadedRun) else load_for_run(run)
    sample = prepare_array(read_input(source, split, index, geometry), loaded.prep)
    return infer_prepared(loaded, sample, record, max_neurons, energy)


@torch.no_grad()
def infer_prepared(loaded: LoadedRun, sample: torch.Tensor, record: bool = False,
                   max_neurons: int = DEFAULT_MAX_NEURONS, energy: bool = False) -> InferenceResult:
    """Inference on an already preprocessed sample [C, *spatial] in [0, 1] (e.g. a dataset item)."""
    cfg = loaded.config
    recording = None
    if record:
        recording = record_sample(loaded.model, sample, cfg.timesteps, cfg.encoder, loaded.device,
                                  loaded.label_names, loaded.multi_label, max_neurons)
    logits = _mean_logits(loaded, sample, recording)
    probabilities = probabilities_from_logits(logits, loaded.multi_label).numpy()
    calibrated = None
    if loaded.calibration is not None:
        calibrated = probabilities_from_logits(logits, loaded.multi_label, loaded.temperature).numpy()
    report = sample_energy(loaded.model, sample, cfg.timesteps, cfg.encoder, loaded.device) if energy else None
    predicted = int(np.argmax(probabilities))
    return InferenceResult(probabilities, predicted, loaded.label_names[predicted], sample.cpu().numpy(),
                           recording, report, calibrated, loaded.temperature)


def _mean_logits(loaded: LoadedRun, sample: torch.Tensor, recording: Recording | None) -> torch.Tensor:
    """Time-averaged scores [classes], averaged over the run's test-time views (the recording, when
    there is one, already holds the image's own)."""
    cfg = loaded.config
    views = []
    for dims in tta_flips(loaded.label_names, cfg.tta):
        if not dims and recording is not None:
            views.append(torch.from_numpy(recording.outputs).float().mean(0))
            continue
        image = sample.flip(dims) if dims else sample
        outputs = loaded.model(encode(image.unsqueeze(0).to(loaded.device), cfg.timesteps, cfg.encoder))
        functional.reset_net(loaded.model)
        views.append(outputs.float().mean(0)[0].cpu())
    return torch.stack(views).mean(0)
