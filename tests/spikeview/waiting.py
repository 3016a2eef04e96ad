"""Waiting for the app in GUI tests: one definition of "idle" for every test that drives a window."""
from __future__ import annotations


def wait_idle(qtbot, window, timeout: int = 60000) -> None:
    """Until the window's background jobs have ended, their results arrived, and the 3D rendering that
    follows the slices is built."""
    qtbot.waitUntil(lambda: not window.runner.active and not window.scan_view.ortho_view.render_pending,
                    timeout=timeout)
    qtbot.wait(20)
