"""The Debian package: the one-folder app under /opt/spikeview, commands on PATH, a menu entry with
an icon, and the scan types (.nii, .nii.gz, .nrrd, .dcm) opening in SpikeView.

dpkg owns every file it installs, so removing the package removes all of it; the desktop, MIME and
icon caches are refreshed by the triggers of desktop-file-utils, shared-mime-info and
hicolor-icon-theme, so the package needs no maintainer scripts.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PACKAGE = "spikeview"
INSTALL_DIR = Path("/opt/spikeview")
COMMANDS = ("spikeview", "spikeview-engine")
HERE = Path(__file__).resolve().parent
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

# What the bundle needs from the workstation (checked with ldd on every bundled library): glibc as
# new as the build machine's, the OpenGL/EGL stack that must match the graphics driver, and fonts.
DEPENDS = ["libc6 (>= 2.36)", "libgl1", "libegl1", "libdrm2", "libwayland-client0", "libxcb1",
           "fontconfig-config", "fonts-dejavu-core | fonts-liberation2"]
RECOMMENDS = ["desktop-file-utils", "shared-mime-info", "hicolor-icon-theme", "libgl1-mesa-dri", "libegl-mesa0"]

CONTROL = """Package: {package}
Version: {version}
Architecture: {arch}
Maintainer: SpikeView developers <spikeview@localhost>
Installed-Size: {installed_kib}
Depends: {depends}
Recommends: {recommends}
Section: science
Priority: optional
Homepage: https://localhost/spikeview
Description: spiking neural networks on medical images (research use only)
 SpikeView opens DICOM, NIfTI, NRRD and MedMNIST images, shows them in 2D, in three
 orthogonal views and as a VTK volume rendering, trains spike-driven transformers on
 them and shows the spiking dynamics (rasters, membrane traces, attention) live.
 .
 For research use only. Not for diagnosis.
"""

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: SpikeView
Comment: The licences of the bundled third-party components are in
 /opt/spikeview/licenses (THIRD-PARTY-NOTICES.md lists them).

Files: *
Copyright: 2026 the SpikeView developers
License: BSD-3-Clause
"""


def debian_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


def _stage_tree(bundle: Path, root: Path, icons: Path, repo: Path) -> None:
    app_dir = root / INSTALL_DIR.relative_to("/")
    app_dir.parent.mkdir(parents=True)
    shutil.copytree(bundle, app_dir, symlinks=True, copy_function=_hardlink_or_copy)
    bin_dir = root / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    for command in COMMANDS:
        (bin_dir / command).symlink_to(INSTALL_DIR / command)
    share = root / "usr" / "share"
    _install(HERE / "linux" / "spikeview.desktop", share / "applications" / "spikeview.desktop")
    _install(HERE / "linux" / "spikeview-mime.xml", share / "mime" / "packages" / "spikeview.xml")
    _install(repo / "resources" / "icons" / "spikeview.svg", share / "icons" / "hicolor" / "scalable" / "apps" / "spikeview.svg")
    for size in ICON_SIZES:
        _install(icons / f"spikeview-{size}.png", share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "spikeview.png")
    doc = share / "doc" / PACKAGE
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT + _licence_paragraph(repo / "LICENSE"))


def _licence_paragraph(licence: Path) -> str:
    """The licence text in the copyright file's format: indented by one space, blank lines as ' .'."""
    body = [" " + line if line.strip() else " ." for line in licence.read_text().splitlines()[2:]]
    return "\nLicense: BSD-3-Clause\n" + "\n".join(body).rstrip(" .\n") + "\n"


def _install(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o644)


def _hardlink_or_copy(source: str, target: str) -> None:
    try:
        Path(target).hardlink_to(source)
    except OSError:
        shutil.copy2(source, target)


def _installed_kib(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink()) // 1024 + 1


def build_deb(bundle: Path, stage: Path, dist: Path, version: str, repo: Path) -> Path:
    """dist/spikeview_<version>_<arch>.deb from the one-folder bundle; `stage` holds the icons."""
    arch = debian_arch()
    root = stage / "deb" / f"{PACKAGE}_{version}_{arch}"
    shutil.rmtree(root.parent, ignore_errors=True)
    _stage_tree(bundle, root, stage, repo)
    control = root / "DEBIAN" / "control"
    control.parent.mkdir()
    control.write_text(CONTROL.format(package=PACKAGE, version=version, arch=arch, installed_kib=_installed_kib(root),
                                      depends=", ".join(DEPENDS), recommends=", ".join(RECOMMENDS)))
    output = dist / f"{PACKAGE}_{version}_{arch}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", str(root), str(output)],
                   check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(root.parent)
    return output
