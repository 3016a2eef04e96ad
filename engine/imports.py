"""torch is imported by one thread at a time.

Its package imports form cycles, so a second thread importing it (or a package that imports it, such as
`medmnist`) while the first is still at it gets a partly initialised module and fails. The app imports
the engine on worker threads. So code that may be the first to import torch from a thread calls
`import_torch()` first. It is quick once torch is in.
"""
from __future__ import annotations

import importlib
import threading

TORCH_MODULES = ("torch", "torch._dynamo", "spikingjelly.activation_based.neuron")  # the cycle-prone imports
_lock = threading.Lock()
_imported = False


def import_torch() -> None:
    """Import torch (and what imports it in cycles) once, one thread at a time."""
    global _imported
    if _imported:
        return
    with _lock:
        for name in TORCH_MODULES:
            importlib.import_module(name)
        _imported = True
