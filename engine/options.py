"""Every training option once: its default, its allowed values, its limits and its help.

`TrainConfig` holds a run's settings (the "train" part of the run's `config.json`). Each field
carries an `Option` in its metadata, and everything else reads them from there: the CLI builds the
flags of `spikeview-engine train`, `TrainConfig.validate` checks a config, and the app builds its
training form. The dataset and model names come from the data catalog and the model registry (the
CLI and the app list them with `engine.data.catalog.list_datasets` and `engine.models.list_models`);
a wrong one is refused where it is looked up.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from engine.errors import UserError

ENCODERS = ("direct", "poisson", "latency")
LOSSES = ("tet", "ce")
CLASS_WEIGHTS = ("none", "balanced")
TEST_TIME_AUGMENTATIONS = ("none", "flip", "flip-shift")
ENHANCEMENTS = ("none", "equalize", "clahe", "percentile")
DEVICES = ("auto", "cpu", "cuda")
COMPILE_MODES = ("auto", "on", "off")
PRECISIONS = ("auto", "fp32", "bf16")
SIZES = (28, 64, 128, 224)


@dataclass(frozen=True)
class Option:
    """How one `TrainConfig` field is offered and checked."""

    help: str
    label: str = ""  # the app's form label; empty: the app does not show it
    choices: tuple = ()  # the allowed values (empty: any)
    minimum: float | None = None  # checked; a strict minimum is excluded ("must be above")
    strict: bool = False
    maximum: float | None = None  # the form's upper limit only; the CLI may go further
    step: float | None = None  # the form's step for floats
    off_text: str = ""  # the form's text for 0 (or None): "all", "never"
    flag: str = ""  # the CLI flag when not --<name-with-dashes>; "-" for none


def option(default: Any, help: str, *, factory: Callable[[], Any] | None = None, **how: Any) -> Any:
    """A dataclass field with its `Option` (see `Option` for `how`)."""
    metadata = {"option": Option(help, **how)}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    dataset: str = option("phantom2d", "a MedMNIST flag (e.g. breastmnist) or phantom2d/3d", label="Dataset")
    size: int = option(28, "image size in pixels (3D datasets: 28 or 64)", label="Size", choices=SIZES)
    data_root: str | None = option(None, "folder of the MedMNIST .npz files (default $SPIKEVIEW_DATA, "
                                         "else ~/.medmnist)")
    model: str = option("sdt_tiny", "a registered model", label="Model")
    model_overrides: dict = option(None, 'JSON overrides, e.g. \'{"dims": [32, 64, 128], "depth": 2}\'',
                                   factory=dict, flag="--model-options")
    timesteps: int = option(4, "timesteps per sample", label="Timesteps", minimum=1, maximum=64)
    encoder: str = option("direct", "how an image becomes spikes", choices=ENCODERS)
    epochs: int = option(10, "training epochs", label="Epochs", minimum=1, maximum=1000)
    batch_size: int = option(64, "training batch size", label="Batch size", minimum=1, maximum=4096)
    eval_batch_size: int = option(256, "evaluation batch size", minimum=1, flag="-")
    lr: float = option(2e-3, "peak learning rate (AdamW, warm-up then cosine decay)", label="Learning rate",
                       minimum=0.0, strict=True, maximum=1.0, step=1e-4)
    weight_decay: float = option(0.01, "AdamW weight decay", minimum=0.0)
    warmup_epochs: float = option(1.0, "epochs of linear learning-rate warm-up", minimum=0.0)
    loss: str = option("tet", "tet (per-timestep CE with a regulariser) or ce (on the mean output)",
                       label="Loss", choices=LOSSES)
    tet_lambda: float = option(0.05, "weight of TET's regulariser", minimum=0.0, flag="-")
    tet_phi: float = option(1.0, "target of TET's regulariser", flag="-")
    label_smoothing: float = option(0.0, "label smoothing of the cross entropy (0: none)", label="Label smoothing",
                                    minimum=0.0, maximum=0.5, step=0.05)
    class_weights: str = option("none", "balanced: weigh each class by the inverse of its training frequency",
                                choices=CLASS_WEIGHTS)
    ema_epochs: float = option(0.0, "an exponential moving average of the weights, evaluated and saved in their "
                                    "place: its horizon in epochs (0: off)", label="Weight average (epochs)",
                               minimum=0.0, maximum=100.0, step=0.5, off_text="off")
    mixup: float = option(0.0, "mixup: Beta(a, a) blends of pairs of training images and their labels "
                               "(0: off; e.g. 0.2)", minimum=0.0)
    tta: str = option("none", "test-time augmentation: flip averages the outputs of the image and its mirror "
                              "image (where the labels allow mirroring); flip-shift also those of each moved "
                              "one pixel either way along every axis", label="Test-time augmentation",
                      choices=TEST_TIME_AUGMENTATIONS)
    augment: bool = option(True, "random flips, rotations, zoom, shifts and intensity jitter")
    augment_strength: float = option(1.0, "scale of the augmentation's random ranges (rotation, zoom, shift, "
                                          "intensity); 1 is the default", minimum=0.0)
    enhance: str = option("none", "contrast enhancement applied to every image", choices=ENHANCEMENTS)
    recalibrate_bn: bool = option(True, "batch-norm statistics recomputed on un-augmented training images before "
                                        "every evaluation (those of augmented batches shift a spiking network's "
                                        "decisions)")
    device: str = option("auto", "auto picks the GPU when there is one", label="Device", choices=DEVICES)
    compile: str = option("auto", "torch.compile the model (minutes the first time, cached after): auto does on a "
                                  "CPU with a C++ compiler for runs of 20,000+ images", choices=COMPILE_MODES)
    precision: str = option("auto", "number format of the forward pass: bf16 (bfloat16 autocast; weights stay "
                                    "float32) or fp32; auto is bf16 on a GPU, fp32 on a CPU",
                            label="Number format", choices=PRECISIONS)
    processes: int = option(1, "data-parallel processes on this machine, one per GPU or sharing the CPU cores "
                               "(0: one per GPU); under torchrun, torchrun's count is used", label="Processes",
                            minimum=0, maximum=64, off_text="all GPUs", flag="--nproc")
    sync_batchnorm: bool = option(False, "batch-norm statistics over the whole batch of all data-parallel "
                                         "processes (SyncBatchNorm)")
    seed: int = option(0, "random seed (data order, augmentation, initial weights)")
    init_from: str | None = option(None, "a trained run folder whose best weights start this training (fine-tuning): "
                                         "the same model; its classifier starts fresh where the run's labels differ")
    train_limit: int | None = option(None, "train on the first N training samples only", label="Train samples",
                                     minimum=1, maximum=10_000_000, off_text="all")
    probe_every: int = option(20, "record a validation sample's dynamics every N steps (0: never); "
                                  "only where a probe is attached, as in the app", label="Probe every N steps",
                              minimum=0, maximum=100_000, off_text="never", flag="-")

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(values: dict) -> "TrainConfig":
        unknown = set(values) - {f.name for f in fields(TrainConfig)}
        if unknown:
            raise UserError(f"Unknown training option(s): {', '.join(sorted(unknown))}.")
        return TrainConfig(**values)

    def validate(self) -> None:
        """Raise `UserError` naming the first option whose value is not allowed."""
        kinds = {item.name: item.type for item in fields(TrainConfig)}
        for name, how in train_options():
            message = _wrong_kind(getattr(self, name), kinds[name]) or _problem(getattr(self, name), how)
            if message:
                raise UserError(f"--{name.replace('_', '-')} {message}.")


def train_options() -> Iterator[tuple[str, Option]]:
    """(field name, Option) of every `TrainConfig` field, in the order of the form."""
    for item in fields(TrainConfig):
        yield item.name, item.metadata["option"]


_KINDS = {"int": ((int,), "a whole number"), "float": ((int, float), "a number"), "str": ((str,), "text"),
          "bool": ((bool,), "true or false"), "dict": ((dict,), "a JSON object"),
          "int | None": ((int, type(None)), "a whole number"), "str | None": ((str, type(None)), "text")}


def _wrong_kind(value: Any, kind: str) -> str:
    """A value of the wrong type (a hand-edited config.json): "must be a whole number, not 'four'"."""
    allowed, words = _KINDS.get(kind, ((object,), ""))
    if isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed):
        return ""
    return f"must be {words}, not {json.dumps(value)}"


def _problem(value: Any, how: Option) -> str:
    if how.choices and value not in how.choices:
        return f"must be one of {', '.join(map(str, how.choices))}, not '{value}'"
    if how.minimum is None or value is None:
        return ""
    if how.strict and value <= how.minimum:
        return "must be positive" if how.minimum == 0 else f"must be above {how.minimum:g}"
    if value < how.minimum:
        return f"must be at least {how.minimum:g}"
    return ""
