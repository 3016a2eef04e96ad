"""Recipes: recommended training settings as data (`medmnist.json` here, or a user's JSON file).

`recommended(flag, size)` gives the one recommended `TrainConfig` of a MedMNIST flag and size: the
settings of its family (2D or 3D; the same for every flag), what its image size changes, and its
epochs from the size of its training split, so a flag the recipe was never measured on gets the same
treatment as those it was. `apply_recipe` lays explicit options over a recipe (`overlay`); the CLI (`train
--recipe`) and the app's "Recommended settings" both go through it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from engine.data.catalog import PHANTOM_FLAGS, available_sizes, get_spec
from engine.errors import UserError
from engine.options import TrainConfig

RECOMMENDED = "recommended"
_PACKAGED = "medmnist.json"


@dataclass(frozen=True)
class EpochRule:
    """epochs = stretch · (at_1000_samples · (n_train / 1000) ** exponent, rounded, within [minimum, maximum]):
    a schedule by the size of the training split, stretched a whole number of times (the ablations'
    "twice" and "four times the epochs" of the schedule, exactly)."""

    at_1000_samples: float
    exponent: float
    minimum: int
    maximum: int
    stretch: int = 1

    def epochs(self, train_samples: int) -> int:
        value = round(self.at_1000_samples * (max(train_samples, 1) / 1000) ** self.exponent)
        return self.stretch * int(min(max(value, self.minimum), self.maximum))


@dataclass(frozen=True)
class Recipe:
    """The recommended settings of one flag and size, and where they come from."""

    flag: str
    size: int
    settings: dict  # TrainConfig fields
    source: str

    def config(self, **overrides) -> TrainConfig:
        return apply_recipe(self.settings, overrides)


def _read_json(path: Path | None = None) -> dict:
    try:
        text = path.read_text() if path else resources.files(__package__).joinpath(_PACKAGED).read_text()
        return json.loads(text)
    except OSError as exc:
        raise UserError(f"The recipe file {path} cannot be read ({exc.strerror}).") from exc
    except ValueError as exc:
        raise UserError(f"The recipe file {path or _PACKAGED} is not valid JSON ({exc}).") from exc


def _family(flag: str, size: int, book: dict) -> tuple[dict, EpochRule]:
    spec = get_spec(flag, size)
    family = book["families"][f"{spec.spatial_dims}d"]
    settings = {**family["config"], **family.get("sizes", {}).get(str(size), {})}
    rule = family["epochs"]
    return settings, EpochRule(rule["at_1000_samples"], rule["exponent"], rule["min"], rule["max"],
                               rule.get("stretch", 1))


def recommended(flag: str, size: int = 28) -> Recipe:
    """The packaged recipe of a MedMNIST flag and size (phantoms: the 2D/3D family's settings)."""
    if size not in available_sizes(flag):
        raise UserError(f"{flag} comes in sizes {', '.join(map(str, available_sizes(flag)))}, not {size}.")
    settings, rule = _family(flag, size, _read_json())
    train_samples = get_spec(flag, size).n_samples.get("train", 1000)
    settings = {**settings, "dataset": flag, "size": size, "epochs": rule.epochs(train_samples)}
    if flag in PHANTOM_FLAGS:
        settings["epochs"] = rule.minimum
    return Recipe(flag, size, settings, f"{_PACKAGED} ({get_spec(flag, size).spatial_dims}D family)")


def all_recommended() -> list[Recipe]:
    """One recipe per MedMNIST flag and size."""
    from engine.data.medmnist import medmnist_flags

    return [recommended(flag, size) for flag in medmnist_flags() for size in available_sizes(flag)]


def recipe_from_file(path: Path | str) -> dict:
    """A user's recipe: a JSON object of `TrainConfig` fields."""
    values = _read_json(Path(path))
    if not isinstance(values, dict):
        raise UserError(f"The recipe file {path} must hold a JSON object of training options.")
    return values


def resolve_recipe(name: str, flag: str, size: int) -> dict:
    """`recommended` (the packaged recipe of `flag` and `size`) or a path to a recipe file."""
    if name == RECOMMENDED:
        return dict(recommended(flag, size).settings)
    return recipe_from_file(name)


def overlay(settings: dict, overrides: dict) -> dict:
    """`overrides` laid over `settings`; model overrides are laid over the recipe's own, key by key (so
    a shortcut changed on the command line keeps the recipe's stem)."""
    merged = {**settings, **overrides}
    if "model_overrides" in overrides:
        merged["model_overrides"] = {**(settings.get("model_overrides") or {}), **(overrides["model_overrides"] or {})}
    return merged


def apply_recipe(settings: dict, overrides: dict) -> TrainConfig:
    """A `TrainConfig` from a recipe's settings with explicit options laid over them, checked."""
    config = TrainConfig.from_dict(overlay(settings, overrides))
    config.validate()
    return config
