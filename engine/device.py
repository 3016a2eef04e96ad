"""Where the engine computes: the device a run asks for, and the number format used there."""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from engine.errors import UserError


def pick_device(name: str) -> torch.device:
    """`auto` is the GPU when there is one, else the CPU; `cuda` without a GPU is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but no CUDA GPU is available here.")
    return torch.device(name)


def autocast_for(device: torch.device) -> AbstractContextManager:
    """bfloat16 autocast on a GPU; full precision on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def describe_accelerator() -> str:
    """One line for a settings form or About: the GPU `auto` would pick, or why there is none."""
    if torch.cuda.is_available():
        return f"CUDA {torch.version.cuda}: {torch.cuda.get_device_name(0)}"
    if torch.version.cuda:
        return f"CPU (no GPU found; torch is a CUDA {torch.version.cuda} build)"
    return "CPU (torch is a CPU build)"
