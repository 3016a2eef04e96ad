"""Identifiers (DICOM PS3.15 Basic Profile) stay in `Volume.identifiers`: never in the metadata shown by
default, the CLI's output, logs or recordings. Checked by grepping everything a real load, `inspect`
and `infer --record` of an identified series (CT_pitch with every profile attribute filled) write."""
from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import pydicom
import pytest

from dicom_writer import identifying_values, write_ct_series
from engine.cli import main
from engine.io import IDENTIFYING_KEYWORDS, is_identifying, load
from engine.io.confidentiality import BASIC_PROFILE
from engine.io.dicom import _DESCRIPTIVE_KEYWORDS


@pytest.fixture(scope="module")
def identified(ct_pitch, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A 12-slice series whose files carry a distinctive value in every identifying attribute."""
    array, affine = ct_pitch
    folder = tmp_path_factory.mktemp("scan")
    values = identifying_values()
    write_ct_series(array[:, :, 20:32], affine, folder, extra=values)
    uids = set()
    for path in folder.iterdir():
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        uids |= {ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID}
    return folder, {**values, **{f"uid {n}": uid for n, uid in enumerate(sorted(uids))}}


def _markers(values: dict[str, str]) -> set[str]:
    """The values distinctive enough to grep for (a 4-letter age like 047Y could occur by chance)."""
    return {value for value in values.values() if len(value) >= 6}


def _leaks(text: str, markers: set[str]) -> list[str]:
    return sorted(marker for marker in markers if marker in text)


def test_the_table_is_ps315_basic_profile() -> None:
    assert len(BASIC_PROFILE) == 456
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "StudyDate", "StudyInstanceUID", "SeriesInstanceUID",
                    "SOPInstanceUID", "InstitutionName", "DeviceSerialNumber", "StationName", "SeriesDescription",
                    "AccessionNumber", "ReferringPhysicianName", "PatientAge", "PatientSex", "ContentTime"):
        assert keyword in IDENTIFYING_KEYWORDS, keyword
    assert is_identifying(0x00291010) and is_identifying(0x60003000) and is_identifying(0x50200010), \
        "private attributes, overlay data and curves"
    assert not is_identifying(0x00280010) and not is_identifying(0x00200032), "Rows and ImagePositionPatient are not"
    assert not set(_DESCRIPTIVE_KEYWORDS) & set(IDENTIFYING_KEYWORDS), "the metadata shown by default identifies no one"


def test_identifiers_are_kept_apart(identified, caplog) -> None:
    folder, values = identified
    caplog.set_level(logging.DEBUG)
    volume = load(folder)
    written = {k for k in values if not k.startswith("uid ")}
    assert written <= set(volume.identifiers), "every identifying attribute is kept, in identifiers"
    assert {"SeriesInstanceUID", "StudyInstanceUID", "SOPInstanceUID"} <= set(volume.identifiers)
    assert not set(volume.metadata) & set(IDENTIFYING_KEYWORDS)
    written_markers = _markers({k: values[k] for k in written})
    assert len(written_markers) > 300 and set(_leaks(str(volume.identifiers), written_markers)) == written_markers, \
        "the grep finds every value where it belongs"
    shown = " ".join([repr(volume), str(volume.metadata), str(volume.summary()), " ".join(volume.warnings), volume.name,
                      caplog.text])
    assert _leaks(shown, _markers(values)) == []


def test_no_identifier_in_cli_output_logs_or_recordings(identified, trained_run: Path, tmp_path: Path, capsys, caplog) -> None:
    folder, values = identified
    caplog.set_level(logging.DEBUG)
    markers = _markers(values)
    assert main(["-v", "inspect", str(folder)]) == 0
    record = tmp_path / "dynamics.npz"
    assert main(["-v", "infer", "--run", str(trained_run), str(folder), "--record", str(record)]) == 0
    captured = capsys.readouterr()
    assert "CT" in captured.out and record.exists()
    with zipfile.ZipFile(record) as archive:
        recording = b"".join(archive.read(name) for name in archive.namelist()).decode("latin-1")
    for where, text in (("stdout", captured.out), ("stderr", captured.err), ("log", caplog.text), ("recording", recording)):
        assert _leaks(text, markers) == [], where
