"""SpikeView's headless engine: data, spiking models, learning, recording, runs and the CLI.

The engine never imports Qt, pyqtgraph or VTK; the desktop app (`spikeview`) builds on it.
"""
from engine.errors import UserError

__all__ = ["UserError"]
