"""Every bad input answered: one table of empty, truncated, corrupt, misshapen, NaN-filled, over-claiming
and mismatched inputs, built from the real data.

Each `BadInput` makes its input in an empty folder (`make`), says what the engine is asked to do with
it (`call`) and what the CLI is asked (`argv`), and names words the one sentence must hold (`says`);
`within` is what both run under (a lock held by another training, a full disk, an unprivileged user).
tests/engine/test_bad_inputs.py checks every row: a `UserError` of one sentence, the CLI exiting 2 with
that sentence on stderr, and nothing written anywhere (the input left byte for byte as it was).
Damaged run folders and checkpoints, runs of a newer engine, unwritable folders and a full disk are
rows too (`RUNS`), and tests/spikeview/test_bad_runs.py shows each of them as one dialog in the app.
"""
from __future__ import annotations

import contextlib
import errno
import functools
import gzip
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from unittest import mock
from pathlib import Path
from types import ModuleType

import nibabel as nib
import nrrd
import numpy as np
import pydicom
from PIL import Image

from engine.io import Volume, load, load_label


@dataclass(frozen=True)
class Materials:
    """What a case may build from: an empty folder of its own, the real data, a trained run."""

    folder: Path
    volumes: Path
    medmnist: Path
    dicom: ModuleType  # tests/engine/io/dicom_writer.py
    run: Path

    def ct(self) -> tuple[np.ndarray, np.ndarray]:
        """The first 8 slices of CT_pitch (uint8 RAS) and its affine."""
        return _ct(self.volumes / "CT_pitch.nii.gz")

    def brain(self) -> Volume:
        return load(self.volumes / "brain1_image.nrrd")

    def series(self, name: str = "series") -> Path:
        self.dicom.write_ct_series(*self.ct(), self.folder / name)
        return self.folder / name

    def file(self, name: str, data: bytes) -> Path:
        (self.folder / name).parent.mkdir(parents=True, exist_ok=True)
        (self.folder / name).write_bytes(data)
        return self.folder / name

    def cut(self, source: Path, name: str) -> Path:
        """The first half of `source`: a copy that stopped early."""
        data = source.read_bytes()
        return self.file(name, data[: len(data) // 2])

    def nifti(self, name: str, array: np.ndarray, affine: np.ndarray | None = None) -> Path:
        nib.save(nib.Nifti1Image(array, np.eye(4) if affine is None else affine), self.folder / name)
        return self.folder / name

    def npy(self, name: str, array: np.ndarray) -> Path:
        np.save(self.folder / name, array, allow_pickle=array.dtype.hasobject)
        return self.folder / name

    def picture(self, name: str, array: np.ndarray) -> Path:
        Image.fromarray(array).save(self.folder / name)
        return self.folder / name

    def run_copy(self, name: str = "run") -> Path:
        """A copy of the trained run (phantom2d, one epoch), to damage."""
        return Path(shutil.copytree(self.run, self.folder / name))

    def run_with_config(self, change: Callable[[dict], object]) -> Path:
        """A copy of the run whose config.json was edited by `change` (in place, or by returning new JSON)."""
        run = self.run_copy()
        config = json.loads((run / "config.json").read_text())
        changed = change(config)
        (run / "config.json").write_text(json.dumps(config if changed is None else changed))
        return run


@functools.cache
def _ct(path: Path) -> tuple[np.ndarray, np.ndarray]:
    image = nib.as_closest_canonical(nib.load(str(path)))
    return np.ascontiguousarray(np.asarray(image.dataobj).astype(np.uint8)[:, :, 24:32]), image.affine


def _load(path: Path, _m: Materials) -> Volume:
    return load(path)


def _infer(path: Path, m: Materials, out: Path) -> list[str]:
    return ["infer", "--run", str(m.run), str(path), "--record", str(out / "dynamics.npz")]


def _label_on_brain(path: Path, m: Materials) -> Volume:
    return load_label(path, m.brain())


def _inspect_label(path: Path, m: Materials, _out: Path) -> list[str]:
    return ["inspect", str(m.volumes / "brain1_image.nrrd"), "--label", str(path)]


def _nothing(_path: Path, _m: Materials) -> AbstractContextManager:
    return nullcontext()


@dataclass(frozen=True)
class BadInput:
    name: str
    make: Callable[[Materials], Path]
    says: str
    call: Callable[[Path, Materials], object] = _load
    argv: Callable[[Path, Materials, Path], list[str]] = _infer  # (input, materials, output folder)
    within: Callable[[Path, Materials], AbstractContextManager] = _nothing  # (input, materials)


# ---- how the inputs are damaged ---------------------------------------------------------------
def _series_with_a_cut_slice(m: Materials) -> Path:
    folder = m.series()
    victim = sorted(folder.iterdir())[3]
    victim.write_bytes(victim.read_bytes()[:-5000])
    return folder


def _dicom_without_pixels(m: Materials) -> Path:
    ds = pydicom.dcmread(sorted(m.series("source").iterdir())[0])
    del ds.PixelData
    ds.save_as(m.folder / "report.dcm")
    shutil.rmtree(m.folder / "source")
    return m.folder / "report.dcm"


def _dicom_claiming_4000_rows(m: Materials) -> Path:
    ds = pydicom.dcmread(sorted(m.series("source").iterdir())[0])
    ds.Rows = ds.Columns = 4000
    ds.save_as(m.folder / "big.dcm")
    shutil.rmtree(m.folder / "source")
    return m.folder / "big.dcm"


def _series_of_two_sizes(m: Materials) -> Path:
    array, affine = m.ct()
    uid = m.dicom.write_ct_series(array, affine, m.folder / "mixed")
    m.dicom.write_ct_series(np.ascontiguousarray(array[:100, :100]), affine, m.folder / "mixed", series_uid=uid,
                            slices=[7], extra={"ImagePositionPatient": [0.0, 0.0, 500.0]})
    return m.folder / "mixed"


def _two_series(m: Materials) -> Path:
    array, affine = m.ct()
    m.dicom.write_ct_series(array, affine, m.folder / "study" / "a")
    m.dicom.write_ct_series(array[:, :, :4], affine, m.folder / "study" / "b")
    return m.folder / "study"


def _nifti_claiming(m: Materials, name: str, compressed: bool) -> Path:
    header = nib.Nifti1Image(np.zeros((2, 2, 2), np.int16), np.eye(4)).header
    header.set_data_shape((32767, 32767, 32767))
    data = header.binaryblock + b"\0" * 20
    return m.file(name, gzip.compress(data) if compressed else data)


def _npy_claiming(m: Materials) -> Path:
    description = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000, 100000), }"
    header = (description + " " * (117 - len(description)) + "\n").encode()
    return m.file("huge.npy", b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 64)


def _vector_nrrd(m: Materials) -> Path:
    nrrd.write(str(m.folder / "field.nrrd"), np.zeros((3, 8, 8, 8), np.float32),
               {"kinds": ["vector", "domain", "domain", "domain"]}, index_order="F")
    return m.folder / "field.nrrd"


def _mask_far_away(m: Materials) -> Path:
    label = load(m.volumes / "brain1_label.nrrd")
    affine = label.affine.copy()
    affine[:3, :2] /= 2
    affine[2, 3] += 1000
    return m.nifti("mask_far.nii.gz", np.repeat(np.repeat(label.array, 2, 0), 2, 1).astype(np.uint8), affine)


def _mask_of(m: Materials, name: str, values: Callable[[np.ndarray], np.ndarray]) -> Path:
    label = load(m.volumes / "brain1_label.nrrd")
    return m.nifti(name, values(label.array), label.affine)


def _many_labels(mask: np.ndarray) -> np.ndarray:
    return (np.arange(mask.size) % 300).reshape(mask.shape).astype(np.int16)


EMPTY = [BadInput(f"empty {ext}", lambda m, ext=ext: m.file(f"empty{ext}", b""), "is empty (0 bytes)")
         for ext in (".nii", ".nii.gz", ".nrrd", ".dcm", ".png", ".jpg", ".npy", ".npz")]

TRUNCATED = [
    BadInput("truncated .nii.gz", lambda m: m.cut(m.volumes / "CT_pitch.nii.gz", "CT_pitch.nii.gz"), "it is truncated"),
    BadInput("truncated .nii", lambda m: m.cut(m.nifti("ct.nii", m.ct()[0]), "cut.nii"), "but has only"),
    BadInput("truncated .nrrd", lambda m: m.cut(m.volumes / "brain1_image.nrrd", "brain1_image.nrrd"), "it is truncated"),
    BadInput("truncated DICOM file", lambda m: m.cut(sorted(m.series().iterdir())[0], "slice.dcm"), "is incomplete"),
    BadInput("DICOM series with one truncated slice", _series_with_a_cut_slice, "is incomplete"),
    BadInput("truncated .png", lambda m: m.cut(m.picture("slice.png", m.ct()[0][:, :, 4]), "cut.png"), "it is truncated"),
    BadInput("truncated .jpg", lambda m: m.cut(m.picture("slice.jpg", m.ct()[0][:, :, 4]), "cut.jpg"), "it is truncated"),
    BadInput("truncated .npy", lambda m: m.cut(m.npy("ct.npy", m.ct()[0]), "cut.npy"), "but has only"),
    BadInput("truncated MedMNIST .npz", lambda m: m.cut(m.medmnist / "breastmnist.npz", "npz/breastmnist.npz"),
             "is damaged or not the official file"),
]

CORRUPT = [
    BadInput("gzip header then garbage .nii.gz", lambda m: m.file("scan.nii.gz", b"\x1f\x8b garbage"),
             "could not be read as a NIfTI file"),
    BadInput("garbage .nii", lambda m: m.file("scan.nii", bytes(range(256)) * 3), "could not be read as a NIfTI file"),
    BadInput("NRRD header with 2 sizes for 3 dimensions",
             lambda m: m.file("scan.nrrd", b"NRRD0004\ntype: short\ndimension: 3\nsizes: 4 4\nencoding: raw\n\n" + b"\0" * 200),
             "has a damaged NRRD header"),
    BadInput("DICM marker then garbage", lambda m: m.file("scan.dcm", b"\0" * 128 + b"DICM" + bytes(range(256)) * 2),
             "holds no image"),
    BadInput("garbage .png", lambda m: m.file("scan.png", b"\x89PNG\r\n\x1a\n" + bytes(range(200))),
             "could not be read as a PNG image file"),
    BadInput("garbage .npy", lambda m: m.file("scan.npy", b"\x93NUMPY garbage"), "is not a NumPy .npy file"),
    BadInput("an .npz that is not MedMNIST", lambda m: m.file("arrays.npz", b"PK\x03\x04 garbage"), "is not a MedMNIST file"),
    BadInput("DICOM file without pixel data", _dicom_without_pixels, "holds no image"),
    BadInput("a text file", lambda m: m.file("notes.txt", b"hello"), "is not a supported file type"),
    BadInput("a path that does not exist", lambda m: m.folder / "missing.nii.gz", "does not exist"),
    BadInput("a folder without DICOM files", lambda m: m.file("notes/readme.txt", b"x").parent,
             "The folder notes holds no DICOM images"),
    BadInput("a folder with two series", _two_series, "holds 2 series; choose one"),
]

SHAPES = [
    BadInput("0 x 32 x 16 NIfTI", lambda m: m.nifti("empty_grid.nii.gz", np.zeros((0, 32, 16), np.float32)),
             "holds no voxels (its grid is 0 x 32 x 16)"),
    BadInput("1D NIfTI", lambda m: m.nifti("line.nii.gz", np.zeros(10, np.float32)), "is a line of 10 values"),
    BadInput("4D NIfTI", lambda m: m.nifti("fmri.nii.gz", np.zeros((8, 8, 8, 3), np.float32)), "is a 4D volume (8 x 8 x 8 x 3)"),
    BadInput("vector NRRD", _vector_nrrd, "holds a vector per voxel"),
    BadInput("DICOM series of two image sizes", _series_of_two_sizes, "do not all have the same size"),
    BadInput("0 x 32 x 16 .npy", lambda m: m.npy("empty_grid.npy", np.zeros((0, 32, 16))), "holds no voxels (its shape is 0 x 32 x 16)"),
    BadInput("1D .npy", lambda m: m.npy("line.npy", np.arange(5.0)), "is a 1D array (5)"),
    BadInput("4D .npy", lambda m: m.npy("batch.npy", np.zeros((2, 8, 8, 8))), "is a 4D array (2 x 8 x 8 x 8)"),
    BadInput("complex .npy", lambda m: m.npy("kspace.npy", np.zeros((8, 8), complex)), "holds complex numbers (complex128)"),
    BadInput("text .npy", lambda m: m.npy("words.npy", np.array([["a", "b"], ["c", "d"]])), "holds text (<U1)"),
    BadInput("pickled objects .npy", lambda m: m.npy("objects.npy", np.array([{"a": 1}, None], dtype=object)),
             "never loads those"),
]

NOT_NUMBERS = [
    BadInput("all-NaN NIfTI", lambda m: m.nifti("nan.nii.gz", np.full((4, 4, 4), np.nan, np.float32)), "holds no numbers at all"),
    BadInput("all-infinite NIfTI", lambda m: m.nifti("inf.nii.gz", np.full((4, 4, 4), np.inf, np.float32)), "holds no numbers at all"),
    BadInput("all-NaN .npy", lambda m: m.npy("nan.npy", np.full((8, 8), np.nan)), "holds no numbers at all"),
]

HUGE_HEADERS = [
    BadInput(".nii header claiming 32767^3 voxels", lambda m: _nifti_claiming(m, "huge.nii", False),
             "says it holds 32767 x 32767 x 32767 voxels (70.4 TB) but has only 16 bytes"),
    BadInput(".nii.gz header claiming 32767^3 voxels", lambda m: _nifti_claiming(m, "huge.nii.gz", True),
             "more than this computer's memory"),
    BadInput("NRRD header claiming 100000^3 voxels",
             lambda m: m.file("huge.nrrd", b"NRRD0004\ntype: short\ndimension: 3\nsizes: 100000 100000 100000\n"
                                           b"encoding: raw\nendian: little\n\n" + b"\0" * 100), "but has only 100 bytes"),
    BadInput(".npy header claiming 100000^3 values", _npy_claiming, "but has only 64 bytes"),
    BadInput("DICOM claiming 4000 x 4000 pixels", _dicom_claiming_4000_rows, "is incomplete (86,800 of 32,000,000 bytes)"),
]

MISMATCHED_LABELS = [BadInput(name, make, says, _label_on_brain, _inspect_label) for name, make, says in (
    ("mask 1000 mm away from the scan", _mask_far_away, "does not overlap the scan in space"),
    ("mask with fractional values", lambda m: _mask_of(m, "soft.nii.gz", lambda a: a.astype(np.float32) * 0.5),
     "holds fractional values"),
    ("mask with 300 labels", lambda m: _mask_of(m, "many.nii.gz", _many_labels), "has 299 distinct values"),
    ("2D picture as a mask of a 3D scan", lambda m: m.picture("mask.png", np.zeros((28, 28), np.uint8)),
     "carries no position in space"),
    ("colour picture as a mask", lambda m: m.picture("mask.png", np.zeros((28, 28, 3), np.uint8)), "is a colour image"),
    ("4D mask", lambda m: m.nifti("mask4d.nii.gz", np.zeros((8, 8, 8, 2), np.uint8)), "is a 4D volume"),
)]

# ---- run folders, checkpoints and where runs are written ---------------------------------------------
def _load_run(path: Path, _m: Materials):
    from engine.models import load_for_run

    return load_for_run(path, device="cpu")


def _infer_with_run(path: Path, m: Materials, _out: Path) -> list[str]:
    return ["infer", "--run", str(path), str(m.volumes / "brain1_image.nrrd")]


def _resume(path: Path, _m: Materials, epochs: int = 2):
    from engine.learning.trainer import Trainer
    from engine.runs.rundir import RunDir

    config = RunDir(path).train_config()
    config.epochs = epochs
    return Trainer(config, path, resume=True).run()


def _resume_argv(path: Path, _m: Materials, _out: Path) -> list[str]:
    return ["train", "--out", str(path), "--resume", "--epochs", "2", "--device", "cpu"]


def _train_into(path: Path, _m: Materials):
    from engine.learning.trainer import Trainer
    from engine.options import TrainConfig

    return Trainer(TrainConfig(dataset="phantom2d", epochs=1, train_limit=50, device="cpu"), path / "run").run()


def _train_into_argv(path: Path, _m: Materials, _out: Path) -> list[str]:
    return ["train", "--dataset", "phantom2d", "--epochs", "1", "--train-limit", "50", "--device", "cpu",
            "--out", str(path / "run"), "--exact-out"]


def _read_only_folder(m: Materials) -> Path:
    folder = m.folder / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@contextlib.contextmanager
def _as_an_unprivileged_user(_path: Path, _m: Materials) -> Iterator[None]:
    """Folder permissions bind everyone but root: as root, act as `nobody` (effective uid only) meanwhile."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def _another_training_holds(path: Path, _m: Materials) -> AbstractContextManager:
    from engine.runs.lock import RunLock

    return RunLock(path)


def _a_full_disk(_path: Path, _m: Materials) -> AbstractContextManager:
    """The disk fills up while a checkpoint is written: part of the file, then ENOSPC."""
    import engine.runs.rundir as rundir

    def save_file(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"\0" * 4096)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filename))

    return mock.patch.object(rundir, "save_file", save_file)


def _damage(m: Materials, name: str, damage: Callable[[bytes], bytes]) -> Path:
    run = m.run_copy()
    (run / name).write_bytes(damage((run / name).read_bytes()))
    return run


def _without(m: Materials, name: str) -> Path:
    run = m.run_copy()
    (run / name).unlink()
    return run


def _wider_model(config: dict) -> None:
    config["train"]["model_overrides"]["dims"] = [16, 32, 64]


RUN_FOLDERS = [BadInput(name, make, says, _load_run, _infer_with_run) for name, make, says in (
    ("run config.json without 'train'", lambda m: m.run_with_config(lambda c: {k: v for k, v in c.items() if k != "train"}),
     "has an incomplete config.json: it lacks 'train'."),
    ("run config.json without 'train' and 'model'",
     lambda m: m.run_with_config(lambda c: {k: v for k, v in c.items() if k not in ("train", "model")}),
     "it lacks 'train' and 'model'."),
    ("run config.json that is not JSON", lambda m: _damage(m, "config.json", lambda b: b[: len(b) // 2]),
     "config.json is not valid JSON"),
    ("run config.json holding a list", lambda m: m.run_with_config(lambda c: [c]), "is not a JSON object"),
    ("run config.json that is binary", lambda m: _damage(m, "config.json", lambda b: bytes(range(256))),
     "holds binary data"),
    ("run config.json with a setting of the wrong type",
     lambda m: m.run_with_config(lambda c: c["train"].update(timesteps="four")),
     'unusable training setting in config.json: --timesteps must be a whole number, not "four"'),
    ("run config.json with an unknown setting", lambda m: m.run_with_config(lambda c: c["train"].update(wings=2)),
     "unknown training option(s): wings"),
    ("run from a newer engine (run format 99)",
     lambda m: m.run_with_config(lambda c: c.update(format=99, engine_version="9.0.0")),
     "was written by SpikeView 9.0.0 in run format 99, newer than this SpikeView reads (2); update SpikeView"),
    ("run without its best checkpoint", lambda m: _without(m, "best.safetensors"),
     "has no 'best' checkpoint (best.safetensors is missing)"),
    ("run with a corrupt checkpoint", lambda m: _damage(m, "best.safetensors", lambda b: bytes(range(256)) * 8),
     "best.safetensors is damaged or incomplete"),
    ("run with a truncated checkpoint", lambda m: _damage(m, "best.safetensors", lambda b: b[: len(b) // 2]),
     "best.safetensors is damaged or incomplete"),
    ("run with an empty checkpoint", lambda m: _damage(m, "best.safetensors", lambda b: b""),
     "best.safetensors is damaged or incomplete"),
    ("run whose weights have the wrong shape", lambda m: m.run_with_config(_wider_model),
     "do not fit the model its config.json describes (stem.conv.conv.weight is 8 x 1 x 3 x 3 there but "
     "16 x 1 x 3 x 3 in the model)"),
    ("a folder that is not a run", lambda m: m.file("not_a_run/notes.txt", b"x").parent,
     "is not a SpikeView run: it has no config.json"),
)]

RUN_WRITES = [
    BadInput("run with a damaged metrics.jsonl, resumed", lambda m: _damage(m, "metrics.jsonl", lambda b: b"{oops\n" + b),
             "metrics.jsonl is damaged: line 1 is not a JSON record", _resume, _resume_argv),
    BadInput("run folder in use by another training", lambda m: m.run_copy(),
             f"is in use by another training (process {os.getpid()}); wait for it to end", _resume, _resume_argv,
             _another_training_holds),
    BadInput("unwritable output folder", _read_only_folder,
             "could not be made because permission to write there was denied; choose a folder you can write to",
             _train_into, _train_into_argv, _as_an_unprivileged_user),
    BadInput("full disk while a checkpoint is written", lambda m: m.run_copy(),
             "Epoch 2 of the run run could not be saved because the disk is full; the run keeps its earlier "
             "epochs and can be resumed", _resume, _resume_argv, _a_full_disk),
]

RUNS = RUN_FOLDERS + RUN_WRITES

CORPUS: list[BadInput] = (EMPTY + TRUNCATED + CORRUPT + SHAPES + NOT_NUMBERS + HUGE_HEADERS + MISMATCHED_LABELS
                          + RUNS)
