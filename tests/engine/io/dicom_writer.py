"""Write real volumes as DICOM CT series / multi-frame files for the tests (pydicom)."""
from __future__ import annotations

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
                    modality: str = "CT", study_uid: str | None = None) -> str:
    """One file per k-slice of a uint8 RAS volume, stored so that HU = 8 * value - 1024; returns the series UID."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid, study_uid = generate_uid(), study_uid or generate_uid()
    lps, row_dir, col_dir, pixel_spacing = _geometry(affine_ras)
    stored = ((hu_from_uint8(volume) - INTERCEPT) / SLOPE).astype(np.uint16)
    order = np.random.default_rng(0).permutation(volume.shape[2])  # file names must not give the order
    for name_number, k in enumerate(order):
        ds = _base(CTImageStorage, series_uid, study_uid, modality, description)
        ds.InstanceNumber = int(k) + 1
        ds.ImageOrientationPatient = [float(v) for v in (*row_dir, *col_dir)]
        ds.ImagePositionPatient = [float(v) for v in (lps @ np.array([0, 0, k, 1.0]))[:3]]
        ds.PixelSpacing = pixel_spacing
        ds.SliceThickness = float(np.linalg.norm(lps[:3, 2]))
        ds.RescaleSlope, ds.RescaleIntercept = SLOPE, INTERCEPT
        ds.Rows, ds.Columns = volume.shape[1], volume.shape[0]
        ds.PixelData = np.ascontiguousarray(stored[:, :, k].T).astype("<u2").tobytes()
        ds.save_as(folder / f"img{name_number:04d}.dcm", enforce_file_format=True)
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
