"""Every row of the bad-input corpus (bad_inputs.py) gets one clear sentence: a `UserError` from the
engine, the same sentence on stderr with exit status 2 from the CLI, and nothing written anywhere."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bad_inputs import CORPUS, BadInput, Materials
from engine.cli import main
from engine.errors import UserError


@pytest.fixture
def materials(tmp_path: Path, volumes_dir: Path, medmnist_root: Path, dicom_writer, trained_run: Path) -> Materials:
    (tmp_path / "input").mkdir()
    return Materials(tmp_path / "input", volumes_dir, medmnist_root, dicom_writer, trained_run)


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def is_one_sentence(text: str) -> bool:
    """One line, ending with a full stop, with no second sentence starting inside it."""
    return bool(re.fullmatch(r"[^\n]+\.", text)) and not re.search(r"[.!?]\s+[A-Z]", text) and "Traceback" not in text


def test_the_corpus_covers_every_supported_type() -> None:
    names = " ".join(case.name for case in CORPUS)
    for kind in (".nii", ".nii.gz", ".nrrd", "DICOM", ".png", ".jpg", ".npy", ".npz"):
        assert f"empty {kind}" in names or kind == "DICOM", kind
        assert f"truncated {kind}" in names or f"truncated {kind} file" in names or kind == ".npz", kind
    assert len({case.name for case in CORPUS}) == len(CORPUS), "every case has its own name"


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_bad_input_gets_one_sentence(case: BadInput, materials: Materials, tmp_path: Path, capsys) -> None:
    path = case.make(materials)
    before = _files(materials.folder)
    out = tmp_path / "out"
    out.mkdir()
    with case.within(path, materials):
        with pytest.raises(UserError) as caught:
            case.call(path, materials)
        capsys.readouterr()
        code = main(case.argv(path, materials, out))
    message = str(caught.value)
    assert case.says in message, message
    assert is_one_sentence(message), message
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.strip().splitlines()[-1] == f"error: {message}", err
    assert _files(materials.folder) == before, "the input is left as it was"
    assert list(out.iterdir()) == [], "nothing half-written"
