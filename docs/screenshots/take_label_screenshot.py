"""Screenshot of a lesion mask overlaid across grids: brain1's mask saved on a 512 x 512 grid, opened on
the 256 x 256 scan (the engine resamples it through both affines, nearest neighbour; the inspector says
so). Run under a display (Xvfb) so VTK is visible:

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/take_label_screenshot.py
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
from PySide6.QtCore import Qt

from take_screenshots import DATA, HERE, _wait


def mask_on_a_finer_grid(folder: Path) -> Path:
    """brain1_label on twice the in-plane resolution (512 x 512 x 25), same place in space, as NIfTI."""
    from engine.io import load

    label = load(DATA / "volumes" / "brain1_label.nrrd")
    fine = label.affine.copy()
    fine[:3, :2] /= 2
    fine[:3, 3] -= (label.affine[:3, 0] + label.affine[:3, 1]) / 4  # voxel centres stay centred
    array = np.repeat(np.repeat(label.array, 2, axis=0), 2, axis=1).astype(np.uint8)
    nib.save(nib.Nifti1Image(array, fine), folder / "lesion_mask_512.nii.gz")
    return folder / "lesion_mask_512.nii.gz"


def main() -> int:
    from spikeview.app import create_application

    app = create_application()
    from spikeview.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scan = shutil.copy(DATA / "volumes" / "brain1_image.nrrd", folder / "brain1_image.nrrd")  # no label beside it
        mask = mask_on_a_finer_grid(folder)
        window = MainWindow(data_root=DATA / "medmnist")
        window.resize(1560, 860)
        for dock in (window.training_dock, window.inference_dock, window.dynamics_dock, window.snndeep_dock,
                     window.browser_dock, window.runs_dock):
            dock.hide()  # the views and the inspector are the subject
        window.show()
        window.resizeDocks([window.inspector_dock], [800], Qt.Orientation.Horizontal)
        window.open_paths([scan])
        _wait(app, window)
        window.open_label(mask)
        _wait(app, window)
        window.ortho_view.set_crosshair((72, 102, 16))  # through the lesion
        window.opacity_slider.setValue(60)
        tree = window.inspector.tree
        for row in range(tree.topLevelItemCount()):  # the label section in view, not the scan's basics
            item = tree.topLevelItem(row)
            item.setExpanded(item.text(0) == "Label overlay")
        tree.setColumnWidth(0, 115)
        _wait(app, window)
        assert window.session.current.label is not None, "the mask was not overlaid"
        window.screenshot().save(str(HERE / "label_across_grids.png"))
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
