"""The source tree of another commit, for the benchmarks that compare this checkout with `--before REV`:
a detached git worktree, run with this checkout's venv (PYTHONPATH points at it), removed afterwards."""
from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def add_tree(rev: str, folder: Path) -> Path:
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(folder), rev],
                   check=True, capture_output=True)
    return folder


def remove_tree(folder: Path) -> None:
    subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(folder)], capture_output=True)
