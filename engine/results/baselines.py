"""The published MedMNIST v2 baselines (`../shared/reference/medmnist_v2_baselines.md`), read as
{flag: {method: Baseline}}, where each table has a header of dataset names and two columns (AUC, ACC)
per dataset."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Baseline:
    method: str
    acc: float
    auc: float


REFERENCE_2D = "ResNet-18 (28)"
REFERENCE_3D = "ResNet-18 + 3D"


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def read_baselines(path: Path | str) -> dict[str, dict[str, Baseline]]:
    """Every (dataset, method) pair of the reference file's tables; an unreadable file gives {}."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return {}
    table: dict[str, dict[str, Baseline]] = {}
    datasets: list[str] = []
    for line in lines:
        if not line.startswith("|"):
            datasets = []
            continue
        cells = _cells(line)
        if cells[0] == "Methods":
            datasets = [name.lower() for name in cells[1:]]
        elif datasets and cells[0] not in ("AUC", "") and not set(cells[0]) <= set("-: "):
            values = [float(v) for v in cells[1:]]
            for i, flag in enumerate(datasets):
                table.setdefault(flag, {})[cells[0]] = Baseline(cells[0], acc=values[2 * i + 1], auc=values[2 * i])
    return table


def reference_for(flag: str, spatial_dims: int, table: dict[str, dict[str, Baseline]]) -> Baseline | None:
    """The CNN baseline the project compares with: ResNet-18 at 28 px (2D) or ResNet-18 + 3D."""
    return table.get(flag, {}).get(REFERENCE_3D if spatial_dims == 3 else REFERENCE_2D)


def best_published(flag: str, table: dict[str, dict[str, Baseline]]) -> Baseline | None:
    """The best published ACC and the best published AUC (possibly of two methods), as one row."""
    rows = list(table.get(flag, {}).values())
    if not rows:
        return None
    best_acc, best_auc = max(rows, key=lambda b: b.acc), max(rows, key=lambda b: b.auc)
    return Baseline(f"{best_acc.method} / {best_auc.method}", best_acc.acc, best_auc.auc)
