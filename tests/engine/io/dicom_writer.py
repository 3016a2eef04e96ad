"""Write real volumes as DICOM CT series / multi-frame files for the tests (pydicom)."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, EnhancedCTImageStorage, ExplicitVRLittleEndian, generate_uid

LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
SLOPE, INTERCEPT = 2.0, -1024.0


def _base(sop_class: str, series_uid: str, study_uid: str, modality: str, description: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = modality
    ds.SeriesDescription = description
    ds.SeriesNumber = 1
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "ID-12345"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    return ds


def _geometry(affine_ras: np.ndarray):
    lps = LPS @ affine_ras
    col_step, row_step = np.linalg.norm(lps[:3, 0]), np.linalg.norm(lps[:3, 1])
    return lps, lps[:3, 0] / col_step, lps[:3, 1] / row_step, [float(row_step), float(col_step)]


def hu_from_uint8(volume: np.ndarray) -> np.ndarray:
    """The HU values the written series must read back as."""
    return volume.astype(np.int16) * 8 - 1024


def write_ct_series(volume: np.ndarray, affine_ras: np.ndarray, folder: Path, description: str = "CT head",
                    modality: str = "CT", study_uid: str | None = None, slices: Iterable[int] | None = None,
                    series_uid: str | None = None, extra: dict[str, object] | None = None) -> str:
    """One file per k-slice of a uint8 RAS volume, stored so that HU = 8 * value - 1024; returns the series UID.

    `slices` lists the k written (default all; leave some out for gaps, repeat one for a duplicate);
    `series_uid` adds the files to an existing series; `extra` sets more attributes on every file."""
    stored = ((hu_from_uint8(volume) - INTERCEPT) / SLOPE).astype(np.uint16)
    return write_series(stored, affine_ras, folder, description, modality, study_uid, slices, series_uid,
                        {"RescaleSlope": SLOPE, "RescaleIntercept": INTERCEPT, **(extra or {})})


def write_series(stored: np.ndarray, affine_ras: np.ndarray, folder: Path, description: str = "CT head",
                 modality: str = "CT", study_uid: str | None = None, slices: Iterable[int] | None = None,
                 series_uid: str | None = None, extra: dict[str, object] | None = None) -> str:
    """One file per k-slice of a uint16 or int16 RAS volume (stored values as given); returns the series UID."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid, study_uid = series_uid or generate_uid(), study_uid or generate_uid()
    lps, row_dir, col_dir, pixel_spacing = _geometry(affine_ras)
    slices = list(range(stored.shape[2])) if slices is None else list(slices)
    signed = stored.dtype == np.int16
    for k in slices:
        ds = _base(CTImageStorage, series_uid, study_uid, modality, description)
        ds.PixelRepresentation = int(signed)
        ds.InstanceNumber = int(k) + 1
        ds.ImageOrientationPatient = [float(v) for v in (*row_dir, *col_dir)]
        ds.ImagePositionPatient = [float(v) for v in (lps @ np.array([0, 0, k, 1.0]))[:3]]
        ds.PixelSpacing = pixel_spacing
        ds.SliceThickness = float(abs(np.cross(row_dir, col_dir) @ lps[:3, 2]))
        ds.Rows, ds.Columns = stored.shape[1], stored.shape[0]
        for keyword, value in (extra or {}).items():
            setattr(ds, keyword, value)
        ds.PixelData = np.ascontiguousarray(stored[:, :, k].T).astype("<i2" if signed else "<u2").tobytes()
        # named by the (random) instance UID: file names must not give the order
        ds.save_as(folder / f"{ds.SOPInstanceUID.split('.')[-1]}.dcm", enforce_file_format=True)
    return series_uid


def write_multiframe(volume: np.ndarray, affine_ras: np.ndarray, path: Path) -> None:
    """An enhanced CT multi-frame file with per-frame positions."""
    lps, row_dir, col_dir, pixel_spacing = _geometry(affine_ras)
    ds = _base(EnhancedCTImageStorage, generate_uid(), generate_uid(), "CT", "CT multi-frame")
    ds.NumberOfFrames = volume.shape[2]
    ds.Rows, ds.Columns = volume.shape[1], volume.shape[0]
    shared = Dataset()
    orientation, measures, transform = Dataset(), Dataset(), Dataset()
    orientation.ImageOrientationPatient = [float(v) for v in (*row_dir, *col_dir)]
    measures.PixelSpacing = pixel_spacing
    measures.SliceThickness = float(np.linalg.norm(lps[:3, 2]))
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = SLOPE, INTERCEPT, "HU"
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PixelValueTransformationSequence = Sequence([transform])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for k in range(volume.shape[2]):
        position, frame = Dataset(), Dataset()
        position.ImagePositionPatient = [float(v) for v in (lps @ np.array([0, 0, k, 1.0]))[:3]]
        frame.PlanePositionSequence = Sequence([position])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    stored = ((hu_from_uint8(volume) - INTERCEPT) / SLOPE).astype(np.uint16)
    ds.PixelData = np.ascontiguousarray(stored.transpose(2, 1, 0)).astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)


_SKIPPED_VRS = {"SQ", "OB", "OW", "UN", "US", "SS", "UL", "SL", "FL", "FD", "AT"}
_WRITER_UIDS = {"SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "MediaStorageSOPInstanceUID"}


def identifying_values() -> dict[str, str]:
    """A distinctive value for every text, date, time and UID attribute of PS3.15's Basic Profile
    (the UIDs that `write_series` makes itself excepted), to write into a series and grep for."""
    from pydicom.datadict import dictionary_VR

    from engine.io.confidentiality import BASIC_PROFILE

    values = {}
    for n, (tag, row) in enumerate(sorted(BASIC_PROFILE.items())):
        vr = dictionary_VR(tag)
        if vr in _SKIPPED_VRS or row.keyword in _WRITER_UIDS or tag >> 16 in (0x0000, 0x0002):
            continue
        day = np.datetime64("1901-01-01") + n * 37
        date = str(day).replace("-", "")
        values[row.keyword] = {
            "AE": f"MKAE{n:05d}", "AS": "047Y", "CS": f"MKCS{n:05d}", "DA": date, "DT": f"{date}0930{n % 60:02d}",
            "TM": f"0930{n % 60:02d}.{n:06d}", "DS": f"{900000 + n}.125", "IS": f"{700000 + n}",
            "PN": f"Mk^Person{n:05d}", "UI": generate_uid(),
        }.get(vr, f"MK{vr}{n:05d}")
    return values


def finer_grid(affine: np.ndarray, factor: int) -> np.ndarray:
    """The affine of the same field of view with `factor` times more voxels in-plane (centres kept centred)."""
    fine = affine.copy()
    fine[:3, :2] /= factor
    fine[:3, 3] -= (affine[:3, 0] + affine[:3, 1]) * (factor - 1) / (2 * factor)
    return fine


def upsampled(array: np.ndarray, factor: int) -> np.ndarray:
    """Each voxel repeated `factor` times in-plane: the array on `finer_grid`."""
    return np.repeat(np.repeat(array, factor, axis=0), factor, axis=1)
