"""The registered spike-driven transformer sizes."""
from __future__ import annotations

from engine.models.registry import register_model
from engine.models.spike_driven_transformer import SDTConfig, SpikeDrivenTransformer

SIZES = {
    "tiny": dict(dims=(16, 32, 64), conv_depth=1, depth=1, heads=2),
    "small": dict(dims=(32, 64, 128), conv_depth=1, depth=2, heads=4),
    "base": dict(dims=(64, 128, 256), conv_depth=2, depth=4, heads=8),
}


def _register(size: str) -> None:
    defaults = SIZES[size]

    @register_model(f"sdt_{size}", f"Spike-driven transformer, {size}: widths {defaults['dims']}, "
                    f"{defaults['depth']} attention block(s), {defaults['heads']} heads")
    def factory(**kwargs) -> SpikeDrivenTransformer:
        return SpikeDrivenTransformer(SDTConfig(**{**defaults, **kwargs}))


for _size in SIZES:
    _register(_size)
