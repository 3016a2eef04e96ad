"""Every arrow points one way (docs/architecture.md): checked on the imports of both packages, lazy
imports included, by scripts/architecture.py's reading of them."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUI_LIBRARIES = ("PySide6", "shiboken6", "pyqtgraph", "vtk", "vtkmodules")
# What views (and the session) may take from the engine: the data types they show, by name.
DATA_TYPES = {
    "engine.io": {"Volume", "SeriesInfo", "AXIAL", "CORONAL", "SAGITTAL", "VIEW_AXES"},
    "engine.io.volume": {"Volume", "AXIAL", "CORONAL", "SAGITTAL", "VIEW_AXES"},
    "engine.io.dicom": {"SeriesInfo"},
    "engine.probe.recording": {"Recording", "LayerRecord", "RecordingAnalysis", "NeuronRates"},
    "engine.data.spec": {"DatasetSpec", "SPLITS"},
    "engine.data.medmnist": {"DatasetFile"},
    "engine.runs.listing": {"RunSummary"},
    "engine.runs.calibration": {"Calibration", "ReliabilityBins"},
}
# Panels build forms from the options too.
FORM_TYPES = {**DATA_TYPES, "engine.options": {"Option", "TrainConfig"}}


def _load_script():
    spec = importlib.util.spec_from_file_location("spikeview_architecture", REPO / "scripts" / "architecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


architecture = _load_script()


def _imports(place: str):
    """(file, module, names, line) of every import in a file or in the files under a folder."""
    root = REPO / place
    for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
        for module, names, line in architecture.imported_modules(path):
            yield path.relative_to(REPO), module, names, line


def _engine_imports_beyond(place: str, allowed: dict[str, set[str]]) -> list[str]:
    found = []
    for path, module, names, line in _imports(place):
        if module.split(".")[0] != "engine":
            continue
        extra = set(names or ["(the whole module)"]) - allowed.get(module, set())
        if extra:
            found.append(f"{path}:{line} imports {', '.join(sorted(extra))} from {module}")
    return found


def test_every_import_points_down_a_layer() -> None:
    assert architecture.violations(architecture.dependency_graph()) == []


def test_no_import_cycle_between_units() -> None:
    assert architecture.cycles(architecture.dependency_graph()) == []


def test_the_checks_can_fail() -> None:
    """An upward import and a cycle, added to the real graph, are both reported."""
    graph = architecture.dependency_graph()
    graph["engine.data"]["engine.learning"] = ["engine/data/example.py:1"]
    assert any("engine.data imports engine.learning" in v for v in architecture.violations(graph))
    assert ["engine.data", "engine.learning", "engine.data"] in architecture.cycles(graph)
    graph["engine.learning"]["engine.probe"] = ["engine/learning/example.py:1"]
    assert any("engine.learning imports engine.probe" in v for v in architecture.violations(graph)), \
        "learning and probe share a layer: neither may import the other"


def test_the_engine_never_imports_qt_pyqtgraph_vtk_or_the_app() -> None:
    found = [f"{path}:{line} imports {module}" for path, module, _names, line in _imports("engine")
             if module.split(".")[0] in GUI_LIBRARIES + ("spikeview",)]
    assert found == []


@pytest.mark.parametrize("place", ["spikeview/views", "spikeview/session.py"])
def test_views_take_only_the_engine_data_types_they_show(place: str) -> None:
    assert _engine_imports_beyond(place, DATA_TYPES) == []


def test_panels_call_no_engine_logic() -> None:
    assert _engine_imports_beyond("spikeview/panels", FORM_TYPES) == []


def test_main_window_imports_no_engine() -> None:
    assert [m for m, _n, _l in architecture.imported_modules(REPO / "spikeview" / "main_window.py")
            if m.split(".")[0] == "engine"] == []


def test_controllers_have_no_widgets() -> None:
    widgets = ("PySide6.QtWidgets", "PySide6.QtGui", "pyqtgraph", "vtk", "vtkmodules", "spikeview.panels",
               "spikeview.views")
    found = [f"{path}:{line} imports {module}" for path, module, _names, line in _imports("spikeview/controllers")
             if module.startswith(widgets)]
    assert found == []


def test_the_architecture_page_is_generated_from_the_current_imports() -> None:
    page = (REPO / "docs" / "architecture.md").read_text()
    assert architecture.page_with(architecture.render(architecture.dependency_graph()), page) == page, \
        "docs/architecture.md is stale: run python scripts/architecture.py"
