"""What this SpikeView is: version, build, the torch/CUDA it runs on, where it logs (About, self-test)."""
from __future__ import annotations

import json
import platform
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from spikeview import RESEARCH_NOTICE, __version__
from spikeview.logs import log_file

# Written into the frozen app by installer/build.py: {"build_date": ..., "commit": ..., "variant": ...}
BUILD_INFO = Path(__file__).resolve().parent / "build_info.json"


@lru_cache(maxsize=1)
def build_info() -> dict:
    try:
        return json.loads(BUILD_INFO.read_text())
    except (OSError, ValueError):
        return {}


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


@dataclass(frozen=True)
class AppInfo:
    version: str
    build: str  # "2026-11-23, commit abc1234, CPU build" or "run from source"
    python: str
    platform: str
    torch: str
    accelerator: str  # "CUDA 12.8: NVIDIA H100" or "CPU (torch is a CPU build)"
    log_file: str
    notice: str = RESEARCH_NOTICE

    def to_dict(self) -> dict:
        return asdict(self)


def _build_text() -> str:
    info = build_info()
    if not info:
        return "installed package" if "site-packages" in __file__ else "run from source"
    return f"{info.get('build_date', '?')}, commit {info.get('commit', '?')}, {info.get('variant', '?')} build"


def _torch_and_accelerator() -> tuple[str, str]:
    try:
        import torch  # the app has imported it already; the About box is no reason to import it early

        from engine.device import describe_accelerator
    except Exception as exc:  # noqa: BLE001 - a broken installation is what the self-test must report
        return f"cannot be imported ({type(exc).__name__}: {exc})", "unknown"
    return torch.__version__, describe_accelerator()


def app_info() -> AppInfo:
    torch_version, accelerator = _torch_and_accelerator()
    return AppInfo(
        version=__version__,
        build=_build_text(),
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        torch=torch_version,
        accelerator=accelerator,
        log_file=str(log_file()),
    )
