"""The licences of everything bundled in the frozen app, copied into `SpikeView/licenses/`.

Python distributions are found from the top-level modules PyInstaller bundled (written by the spec),
each with its licence expression and its own licence files; the Python runtime and any system library
copied from the build machine come with their licence texts too. `THIRD-PARTY-NOTICES.md` lists them.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import Distribution, distribution, packages_distributions
from pathlib import Path

LICENSE_FILE = re.compile(r"(LICEN[CS]E|COPYING|NOTICE|AUTHORS)", re.IGNORECASE)
QT_LICENSES = ("LGPL-3", "GPL-3")  # Qt for Python (PySide6) is LGPL-3.0; its wheels carry no licence file
PROJECT_LICENSE = "BSD-3-Clause"


def licence_of(dist: Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression") or ""
    text = (meta.get("License") or "").strip()
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    if expression:
        return expression
    if text and len(text) < 80 and "\n" not in text:
        return text
    return ", ".join(classifiers) or "see the licence files"


def _copy_distribution_files(dist: Distribution, folder: Path) -> list[str]:
    copied = []
    for file in dist.files or []:
        if LICENSE_FILE.search(Path(str(file)).name):
            source = Path(dist.locate_file(file))
            if source.is_file():
                target = folder / Path(str(file)).name
                if target.exists():  # e.g. two LICENSE files in different sub-folders
                    target = folder / str(file).replace("/", "_")
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                copied.append(target.name)
    return copied


def _python_runtime(out: Path) -> dict:
    source = Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"
    files = []
    if source.is_file():
        (out / "Python").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, out / "Python" / "LICENSE.txt")
        files = ["LICENSE.txt"]
    return {"name": "Python", "version": sys.version.split()[0], "licence": "PSF-2.0", "files": files}


def _debian_package_of(library: Path) -> str | None:
    try:
        found = subprocess.run(["dpkg", "-S", library.name], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = found.stdout.splitlines()[0] if found.returncode == 0 and found.stdout else ""
    return line.split(":")[0] or None


def _system_libraries(bundle_lib: Path, out: Path) -> list[dict]:
    """Shared libraries PyInstaller took from the build machine (not from a wheel), with their copyright."""
    rows = []
    for library in sorted(bundle_lib.glob("lib*.so*")):
        package = _debian_package_of(library)
        copyright_file = Path("/usr/share/doc") / (package or "-") / "copyright"
        files = []
        if package and copyright_file.is_file():
            (out / package).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(copyright_file, out / package / "copyright")
            files = ["copyright"]
        rows.append({"name": library.name, "version": package or "", "licence":
                     f"Debian package {package}" if package else "build machine library", "files": files})
    return rows


def _qt_licence_texts(out: Path) -> list[str]:
    files = []
    for name in QT_LICENSES:
        source = Path("/usr/share/common-licenses") / name
        if source.is_file():
            (out / "PySide6_Essentials").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out / "PySide6_Essentials" / name)
            files.append(name)
    return files


def bundled_distributions(top_level: list[str]) -> list[Distribution]:
    owners = packages_distributions()
    names = sorted({dist for module in top_level for dist in owners.get(module, [])}, key=str.lower)
    return [distribution(name) for name in names]


def collect_licenses(bundle: Path, modules_file: Path, project_licence: Path) -> list[dict]:
    out = bundle / "licenses"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copyfile(project_licence, out / "SpikeView-LICENSE.txt")
    rows = []
    for dist in bundled_distributions(json.loads(modules_file.read_text())):
        name = dist.metadata["Name"]
        files = _copy_distribution_files(dist, out / name)
        if name.lower().startswith(("pyside6", "shiboken6")):
            files += _qt_licence_texts(out)
        licence = PROJECT_LICENSE if name == "spikeview" else licence_of(dist)
        rows.append({"name": name, "version": dist.version, "licence": licence, "files": files})
    rows.append(_python_runtime(out))
    internal = bundle / "_internal"
    rows += _system_libraries(internal if internal.is_dir() else bundle, out / "system")
    _write_notices(out / "THIRD-PARTY-NOTICES.md", rows)
    return rows


def _write_notices(path: Path, rows: list[dict]) -> None:
    lines = ["# Third-party components bundled with SpikeView", "",
             "Each component's licence texts are in the folder of the same name beside this file.", "",
             "| component | version | licence | files |", "|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['version']} | {r['licence']} | {', '.join(r['files']) or '-'} |" for r in rows]
    path.write_text("\n".join(lines) + "\n")
