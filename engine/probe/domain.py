"""Can the model judge this input? The input is compared with the run's `InputDomain`, before any class.

Each finding is a `DomainFlag`: a code, a severity and one sentence. A `warning` means the input lies
outside what the model was trained on, so its answer must not be taken as one (the app withholds the
class until the user asks for it); a `note` is worth knowing but does not make the answer meaningless.

    modality        a CT given to an ultrasound model (warning)
    no_plane        a 3D scan given to a 2D model with no plane and slice chosen (warning)
    plane           a coronal slice given to a model trained on axial slices (warning)
    intensity       intensities far outside the training range (warning)
    no_spikes       the network fired no spikes at all (warning)
    modality_unknown, domain_unknown, stretched     (notes)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from engine.data.domain import InputDomain, modality_kind, modality_name
from engine.probe.model_input import InputProvenance

WARNING, NOTE = "warning", "note"
STRETCH_NOTE = 1.5  # a shape whose proportions the resampling changed more than this is noted


@dataclass(frozen=True)
class DomainFlag:
    code: str
    severity: str  # warning | note
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def in_domain(flags: list[DomainFlag]) -> bool:
    return not any(flag.severity == WARNING for flag in flags)


def check_input(domain: InputDomain, provenance: InputProvenance, model_input: np.ndarray,
                spikes: int) -> list[DomainFlag]:
    """Every way `model_input` (made as `provenance` says) lies outside `domain`; warnings first."""
    flags = [*_modality(domain, provenance), *_plane(domain, provenance), *_intensity(domain, model_input)]
    if spikes == 0:
        flags.append(DomainFlag("no_spikes", WARNING, "The network fired no spikes on this input, so its answer "
                                                      "comes from its biases alone, not from the image."))
    if provenance.stretch > STRETCH_NOTE:
        what = "volume" if provenance.whole_volume else "image"
        flags.append(DomainFlag("stretched", NOTE, f"The {what} was stretched by a factor of {provenance.stretch:.1f} "
                                                   f"to fit {' x '.join(map(str, provenance.resampled_to))} voxels."))
    return sorted(flags, key=lambda flag: flag.severity != WARNING)


def _modality(domain: InputDomain, provenance: InputProvenance) -> list[DomainFlag]:
    trained, given = modality_kind(domain.modality), modality_kind(provenance.modality)
    if not trained:
        return []
    if not given:
        return [DomainFlag("modality_unknown", NOTE, f"{provenance.source} does not say its modality; the model "
                                                     f"was trained on {modality_name(trained)} images ({domain.dataset}).")]
    if given != trained:
        return [DomainFlag("modality", WARNING, f"The model was trained on {modality_name(trained)} images "
                                                f"({domain.dataset}), but {provenance.source} is "
                                                f"{_article(modality_name(given))} {modality_name(given)} scan.")]
    return []


def _plane(domain: InputDomain, provenance: InputProvenance) -> list[DomainFlag]:
    if provenance.plane is None:
        return []
    if not provenance.plane_chosen:
        return [DomainFlag("no_plane", WARNING, f"A 3D scan was given to a 2D model without a chosen plane and slice, "
                                                f"so it judged {provenance.plane} slice {provenance.slice_index} of "
                                                f"{provenance.slice_count}; choose the plane and slice to be sure.")]
    if domain.plane and provenance.plane != domain.plane:
        return [DomainFlag("plane", WARNING, f"The model was trained on {domain.plane} slices, but it was given a "
                                             f"{provenance.plane} slice.")]
    return []


def _intensity(domain: InputDomain, model_input: np.ndarray) -> list[DomainFlag]:
    stats = domain.intensity
    if stats is None:
        return [DomainFlag("domain_unknown", NOTE, "This run predates SpikeView's record of its training "
                                                   "intensities, so only the input's modality and shape were checked.")]
    distance = stats.distance(model_input)
    if distance <= stats.distance_limit:
        return []
    return [DomainFlag("intensity", WARNING, f"The input's intensities are far outside the training range (its "
                                             f"histogram lies {distance:.2f} from the training images', which stay "
                                             f"within {stats.image_distance['99.5']:.2f} for 99.5% of them).")]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" or word in ("MR", "X-ray") else "a"
