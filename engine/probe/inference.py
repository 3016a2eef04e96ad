"""Inference from a trained run on a dataset sample, an array, or a scan file, as the run was trained.

The model comes from `engine.models.load_for_run` (batch norm folded); the input is made from the scan
by `engine.probe.model_input` (which plane and slice, what resampling, which window: all recorded in
the result's `provenance`) and checked against the run's input domain by `engine.probe.domain`, with
the spikes the network fired counted, so that the result says whether the model can judge this input
at all before it names a class. The probabilities are computed as the run was evaluated (averaged over
its test-time views), and also divided by the run's calibration temperature where it has one. The
recorded dynamics and the energy of the inference are optional.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from spikingjelly.activation_based import functional

from engine.data.catalog import get_spec, load_split
from engine.data.encoders import encode
from engine.data.transforms import TtaView, tta_views
from engine.errors import UserError
from engine.io import Volume, load, load_medmnist_sample, sample_to_volume
from engine.io.arrays import array_to_volume
from engine.models.energy import EnergyReport
from engine.models.loading import LoadedRun, load_for_run
from engine.models.outputs import probabilities_from_logits
from engine.probe.analysis import sample_energy
from engine.probe.domain import DomainFlag, check_input, in_domain
from engine.probe.model_input import InputProvenance, make_model_input
from engine.probe.recorder import DEFAULT_MAX_NEURONS, SpikeCounter, record_sample
from engine.probe.recording import Recording


@dataclass
class InferenceResult:
    probabilities: np.ndarray
    predicted_label: int
    label_name: str
    model_input: np.ndarray  # [C, *spatial]: what the model actually saw
    provenance: InputProvenance | None = None  # how `model_input` was made from the source
    flags: list[DomainFlag] = field(default_factory=list)  # where the input lies outside the model's domain
    spikes: int = 0  # spikes fired by all neurons over all timesteps
    silent_layers: list[str] = field(default_factory=list)
    recording: Recording | None = None
    energy: EnergyReport | None = None
    calibrated_probabilities: np.ndarray | None = None  # after the run's temperature scaling, if it has one
    temperature: float = 1.0

    @property
    def in_domain(self) -> bool:
        """False when a warning says the model cannot judge this input (its class is then no answer)."""
        return in_domain(self.flags)

    def to_dict(self) -> dict:
        """The domain verdict comes first, then how the input was made, then the class."""
        out = {"in_domain": self.in_domain, "domain_flags": [flag.to_dict() for flag in self.flags],
               "model_input": self.provenance.to_dict() if self.provenance else None,
               "spikes": self.spikes, "silent_layers": self.silent_layers,
               "probabilities": [float(p) for p in self.probabilities],
               "predicted_label": self.predicted_label, "label_name": self.label_name}
        if self.calibrated_probabilities is not None:
            out["calibrated_probabilities"] = [float(p) for p in self.calibrated_probabilities]
            out["temperature"] = self.temperature
        return out


def read_volume(source: str | Path | np.ndarray | Volume, split: str = "test", index: int = 0,
                geometry: str = "as_is") -> Volume:
    """A Volume as is; an array read as a `.npy` file is; a scan file through `engine.io.load` (NIfTI, DICOM,
    NRRD, PNG/JPEG, .npy; `geometry` as there); from a MedMNIST .npz file, sample `index` of `split`."""
    if isinstance(source, Volume):
        return source
    if isinstance(source, np.ndarray):
        return array_to_volume(source, "the array")
    path = Path(source)
    return load_medmnist_sample(path, split, index) if path.suffix == ".npz" else load(path, geometry=geometry)


def run_dataset_sample(loaded: LoadedRun, split: str, index: int) -> Volume:
    """Sample `index` of `split` of the dataset the run was trained on, as a Volume named after it."""
    cfg = loaded.config
    spec = get_spec(cfg.dataset, cfg.size)
    images, labels = load_split(spec, split, Path(cfg.data_root) if cfg.data_root else None)
    if not 0 <= index < len(images):
        raise UserError(f"The {split} split has {len(images)} samples; #{index} does not exist.")
    return sample_to_volume(images[index], spec, labels[index], split, index)


def infer(run: LoadedRun | Path | str, source: str | Path | np.ndarray | Volume, record: bool = False,
          max_neurons: int = DEFAULT_MAX_NEURONS, split: str = "test", index: int = 0,
          geometry: str = "as_is", energy: bool = False, plane: str | None = None,
          slice_index: int | None = None) -> InferenceResult:
    """Classify a scan, image, array or file with a trained run (for a MedMNIST .npz: sample `index` of
    `split`). A 2D model on a 3D scan sees `slice_index` of `plane` (default: the middle slice, flagged)."""
    loaded = run if isinstance(run, LoadedRun) else load_for_run(run)
    volume = read_volume(source, split, index, geometry)
    sample, provenance = make_model_input(volume, loaded.prep, plane, slice_index, loaded.domain.plane)
    return infer_prepared(loaded, sample, record, max_neurons, energy, provenance)


@torch.no_grad()
def infer_prepared(loaded: LoadedRun, sample: torch.Tensor, record: bool = False,
                   max_neurons: int = DEFAULT_MAX_NEURONS, energy: bool = False,
                   provenance: InputProvenance | None = None) -> InferenceResult:
    """Inference on an already preprocessed sample [C, *spatial] in [0, 1]; with its `provenance`, the
    input is checked against the run's domain."""
    cfg = loaded.config
    recording = None
    with SpikeCounter(loaded.model) as spikes:
        if record:
            recording = record_sample(loaded.model, sample, cfg.timesteps, cfg.encoder, loaded.device,
                                      loaded.label_names, loaded.multi_label, max_neurons)
        logits = _mean_logits(loaded, sample, recording)
    probabilities = probabilities_from_logits(logits, loaded.multi_label).numpy()
    calibrated = None
    if loaded.calibration is not None:
        calibrated = probabilities_from_logits(logits, loaded.multi_label, loaded.temperature).numpy()
    report = sample_energy(loaded.model, sample, cfg.timesteps, cfg.encoder, loaded.device) if energy else None
    model_input = sample.cpu().numpy()
    flags = check_input(loaded.domain, provenance, model_input, spikes.total) if provenance is not None else []
    predicted = int(np.argmax(probabilities))
    return InferenceResult(probabilities, predicted, loaded.label_names[predicted], model_input, provenance, flags,
                           spikes.total, spikes.silent_layers, recording, report, calibrated, loaded.temperature)


def _mean_logits(loaded: LoadedRun, sample: torch.Tensor, recording: Recording | None) -> torch.Tensor:
    """Time-averaged scores [classes], averaged over the run's test-time views (the recording, when
    there is one, already holds the image's own)."""
    cfg = loaded.config
    scores = []
    for view in tta_views(loaded.label_names, cfg.tta, sample.ndim - 1):
        if view == TtaView() and recording is not None:
            scores.append(torch.from_numpy(recording.outputs).float().mean(0))
            continue
        outputs = loaded.model(encode(view.apply(sample).unsqueeze(0).to(loaded.device), cfg.timesteps, cfg.encoder))
        functional.reset_net(loaded.model)
        scores.append(outputs.float().mean(0)[0].cpu())
    return torch.stack(scores).mean(0)
