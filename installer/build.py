"""Build SpikeView's workstation installers: `make installer` (or python installer/build.py).

1. stage: build info, icons (PNG/ICO/ICNS from resources/icons/spikeview.svg) in build/installer/;
2. freeze: PyInstaller one-folder bundle from installer/spikeview.spec into dist/SpikeView/;
3. licences of every bundled distribution into dist/SpikeView/licenses/;
4. on Linux: dist/SpikeView-<version>-linux-x86_64.tar.gz and dist/spikeview_<version>_amd64.deb;
   on Windows: dist/SpikeView-<version>-windows-<arch>.zip; on macOS: dist/SpikeView-<version>-macos-<arch>.dmg
   (those two are built by the workflow in installer/ci/, not on this project's Linux machines).

The torch in the build environment decides the variant: a CPU build gives the small CPU package, a
CUDA build the GPU package (see installer/README.md). The last stdout line is one JSON object with
the sizes and times.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from licenses import collect_licenses  # noqa: E402
from linux_package import build_deb  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / "build" / "installer"
DIST = ROOT / "dist"
BUNDLE = DIST / "SpikeView"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

log = logging.getLogger("installer")


def version() -> str:
    namespace: dict = {}
    exec((ROOT / "spikeview" / "__init__.py").read_text(), namespace)  # no import: it is only text
    return namespace["__version__"]


def variant() -> str:
    import torch

    return f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU"


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_build_info() -> dict:
    info = {"version": version(), "build_date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "commit": git_commit(), "variant": variant(), "platform": f"{platform.system()} {platform.machine()}"}
    (STAGE / "build_info.json").write_text(json.dumps(info, indent=2))
    return info


def render_icons() -> None:
    """PNG icons at the freedesktop sizes, plus .ico (Windows) and .icns (macOS), from the SVG."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 - QImage painting needs one
    renderer = QSvgRenderer(str(ROOT / "resources" / "icons" / "spikeview.svg"))
    for size in ICON_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(0)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        image.save(str(STAGE / f"spikeview-{size}.png"))
    largest = Image.open(STAGE / "spikeview-512.png")
    largest.save(STAGE / "spikeview.ico", sizes=[(s, s) for s in ICON_SIZES if s <= 256])
    largest.save(STAGE / "spikeview.icns")


def freeze() -> None:
    shutil.rmtree(BUNDLE, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                    "--distpath", str(DIST), "--workpath", str(STAGE / "pyinstaller"),
                    str(ROOT / "installer" / "spikeview.spec")], cwd=ROOT, check=True)


def normalise_permissions(folder: Path) -> None:
    """Readable by every user of the workstation (some files are written 0600, e.g. by safetensors)."""
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(0o755 if path.is_dir() or mode & 0o111 else 0o644)


def make_archive(name: str) -> Path:
    """SpikeView/ as a .tar.gz: unpack anywhere and run SpikeView/spikeview."""
    path = DIST / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=6) as archive:
        archive.add(BUNDLE, arcname="SpikeView")
    return path


def make_zip(name: str) -> Path:
    return Path(shutil.make_archive(str(DIST / name), "zip", root_dir=DIST, base_dir="SpikeView"))


def make_dmg(name: str) -> Path:
    """A disk image holding SpikeView.app (macOS's hdiutil)."""
    path = DIST / f"{name}.dmg"
    path.unlink(missing_ok=True)
    subprocess.run(["hdiutil", "create", "-volname", "SpikeView", "-srcfolder", str(DIST / "SpikeView.app"),
                    "-format", "UDZO", str(path)], check=True)
    return path


def package_makers(version_text: str) -> list[tuple[str, object]]:
    """(kind, function making the file) for this platform's installers."""
    arch = platform.machine().lower()
    if sys.platform.startswith("linux"):
        return [("archive", lambda: make_archive(f"SpikeView-{version_text}-linux-{arch}")),
                ("deb", lambda: build_deb(BUNDLE, STAGE, DIST, version_text, ROOT))]
    if sys.platform == "win32":
        return [("archive", lambda: make_zip(f"SpikeView-{version_text}-windows-{arch}"))]
    if sys.platform == "darwin":
        return [("dmg", lambda: make_dmg(f"SpikeView-{version_text}-macos-{arch}"))]
    return []


def tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-packages", action="store_true", help="stop after the one-folder bundle")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="installer: %(message)s", stream=sys.stderr)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    STAGE.mkdir(parents=True, exist_ok=True)
    info = write_build_info()
    render_icons()
    log.info("freezing SpikeView %s (%s build) with PyInstaller", info["version"], info["variant"])
    freeze()
    seconds["freeze"] = time.perf_counter() - start
    licences = collect_licenses(BUNDLE, STAGE / "bundled_modules.json", ROOT / "LICENSE")
    normalise_permissions(BUNDLE)
    log.info("licences of %d bundled components in %s", len(licences), BUNDLE / "licenses")
    outputs = {"bundle": str(BUNDLE), "bundle_bytes": tree_bytes(BUNDLE)}
    if not args.no_packages:
        for kind, make in package_makers(info["version"]):
            tick = time.perf_counter()
            path = make()
            seconds[kind] = time.perf_counter() - tick
            outputs.update({kind: str(path), f"{kind}_bytes": path.stat().st_size})
    seconds["total"] = time.perf_counter() - start
    print(json.dumps({**info, **outputs, "seconds": {k: round(v, 1) for k, v in seconds.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
