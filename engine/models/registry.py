"""A registry of models: `@register_model` on a factory, `create_model(name, ...)`, `list_models()`."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from engine.errors import UserError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    factory: Callable[..., nn.Module]
    description: str


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, description: str = "") -> Callable:
    def decorate(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _REGISTRY[name] = ModelEntry(name, factory, description or (factory.__doc__ or "").strip())
        return factory

    return decorate


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_description(name: str) -> str:
    return _entry(name).description


def _entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        raise UserError(f"Unknown model '{name}'; choose one of: {', '.join(list_models())}.")
    return _REGISTRY[name]


def create_model(
    name: str,
    in_channels: int,
    num_classes: int,
    spatial_dims: int = 2,
    timesteps: int = 4,
    input_size: int = 28,
    **overrides,
) -> nn.Module:
    """Build a registered model; `overrides` change its size (dims, depth, heads, ...)."""
    entry = _entry(name)
    try:
        return entry.factory(
            in_channels=in_channels,
            num_classes=num_classes,
            spatial_dims=spatial_dims,
            timesteps=timesteps,
            input_size=input_size,
            **overrides,
        )
    except TypeError as exc:  # an override the model does not have
        raise UserError(f"Model '{name}' does not take the option(s) given: {exc}.") from exc
    except ValueError as exc:  # e.g. a width not divisible by the number of heads
        raise UserError(f"Model '{name}' cannot be built with these options: {exc}.") from exc


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
