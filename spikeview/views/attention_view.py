"""Attention maps of the spike-driven self-attention blocks, per block and head (or their mean), at
the scrubber's timestep, overlaid on the input the model saw with adjustable opacity.

2D inputs: a heatmap over the image. 3D inputs: the map blended into three orthogonal slices through
the volume's centre and into a VTK volume rendering (an RGBA volume: colour blended, opacity from the
intensity and the attention). The saliency arrives computed in a `RecordingAnalysis` (at the input's
size, every timestep and head); this module only picks, colours and draws it. The VTK volume is
updated in place, and after the opacity slider rests rather than on every tick.

Colour goes only where the attention is non-zero; a line under the controls says where that is, or
why there is none ("the attention of block 0 is zero at t = 2: its Q/K/V neurons fired no spikes").
3D planes are named as the model's input is laid out, MedMNIST's (D, H, W): D runs along the stored
(axial) slices, so the planes are axial, coronal and sagittal, shown head up.
"""
from __future__ import annotations


import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QSlider, QStackedWidget, QVBoxLayout, QWidget

from engine.probe.recording import RecordingAnalysis
from spikeview.views.colormaps import lookup_table
from spikeview.views.volume_view import VtkPane, reset_camera_anterior


MEAN_OF_HEADS = "mean of heads"
NO_RECORDING = "No recording yet: run inference, or train with probes on."
NO_ATTENTION = "No attention recorded: the model has no spike-driven self-attention block."
HOT = lookup_table("Hot")
VOLUME_SETTLE_MS = 150  # the 3D rendering follows the opacity slider once it rests this long


def display_image(channels_first: np.ndarray) -> np.ndarray:
    """[C, H, W] in [0, 1] → C-contiguous uint8 [H, W] (grey) or [H, W, 3] (colour)."""
    image = np.moveaxis(channels_first, 0, -1) if channels_first.shape[0] == 3 else channels_first[0]
    return np.ascontiguousarray(np.clip(image * 255, 0, 255), dtype=np.uint8)


def heat_rgba(saliency: np.ndarray) -> np.ndarray:
    """Saliency in [0, 1] → RGBA uint8 through the hot table; alpha follows the saliency."""
    index = np.clip(np.round(saliency * 255), 0, 255).astype(np.uint8)
    rgba = np.empty(saliency.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = HOT[index]
    rgba[..., 3] = np.where(index > 0, np.clip(64 + index.astype(np.int32), 0, 255), 0)  # zero: see-through
    return np.ascontiguousarray(rgba)


PLANES_3D = ((0, "axial"), (1, "coronal"), (2, "sagittal"))  # input axis sliced through → the plane shown


def middle_plane(volume: np.ndarray, axis: int) -> np.ndarray:
    """The middle plane of a (D, H, W) volume across `axis`, head up (D runs inferior → superior)."""
    plane = np.take(volume, volume.shape[axis] // 2, axis=axis)
    return plane if axis == 0 else plane[::-1]


def attention_extent(analysis: RecordingAnalysis, block: str, t: int, head: int | None, saliency: np.ndarray) -> str:
    """Where the map shown is non-zero, or why it is zero everywhere, in one sentence."""
    who = f"{block}" + (f", head {head}" if head is not None else "")
    if saliency.any():
        return f"Attention of {who} at t = {t + 1}: non-zero on {saliency.astype(bool).mean():.0%} of the input."
    steps = analysis.recording.timesteps
    active = [step + 1 for step in range(steps) if analysis.saliency_at(block, step, head).any()]
    if not active:
        return (f"The attention of {who} is zero at every timestep for this input: its spiking Q/K/V neurons "
                "fired no spikes, so there is no map to show (the grey is the input).")
    return (f"The attention of {who} is zero at t = {t + 1}: its Q/K/V neurons fired no spikes then "
            f"(non-zero at t = {', '.join(map(str, active))}).")


def blended_rgba_volume(intensity: np.ndarray, saliency: np.ndarray, opacity: float) -> np.ndarray:
    """Grey volume and saliency (same shape, [0, 1]) → RGBA uint8 for VTK: colours mixed by
    `opacity × saliency`; alpha from the intensity, raised where attention is high."""
    weight = (opacity * saliency)[..., None]
    grey = np.repeat(intensity[..., None], 3, axis=-1)
    heat = HOT[np.clip(np.round(saliency * 255), 0, 255).astype(np.uint8)] / 255.0
    rgb = (1 - weight) * grey + weight * heat
    alpha = np.maximum(intensity * 0.5, opacity * saliency)
    return np.ascontiguousarray(np.clip(np.concatenate([rgb, alpha[..., None]], -1) * 255, 0, 255), dtype=np.uint8)


class _OverlayPlot(pg.PlotWidget):
    """An image with a heat overlay on top."""

    def __init__(self, title: str = "") -> None:
        super().__init__(title=title)
        self.setAspectLocked(True)
        self.invertY(True)
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.base = pg.ImageItem(axisOrder="row-major")
        self.base.setLookupTable(lookup_table("Grey"))
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.base)
        self.addItem(self.overlay)

    def show_planes(self, image: np.ndarray, saliency: np.ndarray, opacity: float) -> None:
        if image.ndim == 2:
            self.base.setImage(image, autoLevels=False, levels=(0, 255))
        else:
            self.base.setImage(image, autoLevels=False, levels=(0, 255), lut=None)
        self.overlay.setImage(heat_rgba(saliency), autoLevels=False, levels=(0, 255))
        self.overlay.setOpacity(opacity)


class _AttentionVolume(VtkPane):
    """VTK rendering of the blended RGBA volume (a placeholder where VTK cannot draw); a volume of the
    same shape replaces the voxels of the one shown, the pipeline stays."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("3D rendering needs a display (VTK).", parent)
        self.actor = None
        self.image = None

    def set_rgba(self, rgba: np.ndarray | None) -> None:
        if not self.ensure_vtk():
            return
        from vtkmodules.util.numpy_support import numpy_to_vtk
        from vtkmodules.vtkCommonDataModel import vtkImageData

        if rgba is None:
            self.renderer.RemoveAllViewProps()
            self.actor = self.image = None
            self.render()
            return
        flat = np.ascontiguousarray(np.transpose(rgba, (2, 1, 0, 3)).reshape(-1, 4))  # x fastest
        if self.image is not None and self.image.GetDimensions() == rgba.shape[:3]:
            self.image.GetPointData().SetScalars(numpy_to_vtk(flat, deep=True))
            self.image.Modified()
            self.render()
            return
        self.image = vtkImageData()
        self.image.SetDimensions(*rgba.shape[:3])
        self.image.GetPointData().SetScalars(numpy_to_vtk(flat, deep=True))
        first = self.actor is None
        if first:
            self._build_pipeline()
        self.mapper.SetInputData(self.image)
        if first:
            reset_camera_anterior(self.renderer)
        self.render()

    def _build_pipeline(self) -> None:
        from vtkmodules.vtkCommonDataModel import vtkPiecewiseFunction
        from vtkmodules.vtkRenderingCore import vtkVolume, vtkVolumeProperty
        from vtkmodules.vtkRenderingVolume import vtkFixedPointVolumeRayCastMapper

        prop = vtkVolumeProperty()
        prop.IndependentComponentsOff()  # RGBA: colour from the first three, opacity from the fourth
        opacity = vtkPiecewiseFunction()
        opacity.AddPoint(0, 0.0)
        opacity.AddPoint(255, 0.9)
        prop.SetScalarOpacity(opacity)
        prop.SetInterpolationTypeToLinear()
        self.mapper = vtkFixedPointVolumeRayCastMapper()
        self.actor = vtkVolume()
        self.actor.SetMapper(self.mapper)
        self.actor.SetProperty(prop)
        self.renderer.AddVolume(self.actor)


class AttentionView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.analysis: RecordingAnalysis | None = None
        self.timestep = 0
        self.saliency: np.ndarray | None = None  # at the input size, for the current choice
        self.block_box = QComboBox()
        self.head_box = QComboBox()
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(55)
        self._volume_timer = QTimer(self)
        self._volume_timer.setSingleShot(True)
        self._volume_timer.setInterval(VOLUME_SETTLE_MS)
        self._volume_timer.timeout.connect(self._draw_volume)
        self.block_box.currentTextChanged.connect(self._on_block_changed)
        self.head_box.currentIndexChanged.connect(lambda _i: self._draw())
        self.opacity_slider.valueChanged.connect(lambda _v: self._draw(volume_now=False))
        controls = QHBoxLayout()
        for text, widget in (("Block", self.block_box), ("Head", self.head_box), ("Opacity", self.opacity_slider)):
            controls.addWidget(QLabel(text))
            controls.addWidget(widget, 1)
        self.message = QLabel(NO_RECORDING)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.extent = QLabel("")  # where the attention shown is non-zero, or why it is nowhere
        self.extent.setWordWrap(True)
        self.plane_2d = _OverlayPlot()
        self.planes_3d = {axis: _OverlayPlot(f"{name} (middle slice)") for axis, name in PLANES_3D}
        self.volume_3d: _AttentionVolume | None = None
        self.grid_3d = QWidget()
        self._grid_layout = QGridLayout(self.grid_3d)
        self._grid_layout.setContentsMargins(0, 0, 0, 0)
        for axis, (row, col) in zip(self.planes_3d, ((0, 0), (0, 1), (1, 0))):
            self._grid_layout.addWidget(self.planes_3d[axis], row, col)
        self.stack = QStackedWidget()
        for page in (self.message, self.plane_2d, self.grid_3d):
            self.stack.addWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.extent)
        layout.addWidget(self.stack, 1)

    @property
    def opacity(self) -> float:
        return self.opacity_slider.value() / 100

    @property
    def head(self) -> int | None:
        index = self.head_box.currentIndex()
        return None if index <= 0 else index - 1

    def _ensure_volume_view(self) -> _AttentionVolume:
        if self.volume_3d is None:  # created on first 3D use: a VTK widget costs a GL context
            self.volume_3d = _AttentionVolume()
            self._grid_layout.addWidget(self.volume_3d, 1, 1)
        return self.volume_3d

    def set_analysis(self, analysis: RecordingAnalysis | None) -> None:
        self.analysis = analysis
        previous = self.block_box.currentText()
        self.block_box.blockSignals(True)
        self.block_box.clear()
        if analysis is not None:
            self.block_box.addItems(list(analysis.saliency))
            if previous in analysis.saliency:
                self.block_box.setCurrentText(previous)
        self.block_box.blockSignals(False)
        if analysis is not None:
            self.timestep = min(self.timestep, analysis.recording.timesteps - 1)
        self._on_block_changed(self.block_box.currentText())

    def _on_block_changed(self, block: str) -> None:
        self.head_box.blockSignals(True)
        self.head_box.clear()
        if self.analysis is not None and block in self.analysis.saliency:
            self.head_box.addItems([MEAN_OF_HEADS] + [f"head {h}" for h in range(self.analysis.heads(block))])
        self.head_box.blockSignals(False)
        self._draw()

    def set_timestep(self, timestep: int) -> None:
        self.timestep = timestep
        self._draw()

    def _draw(self, volume_now: bool = True) -> None:
        """The planes at once; the 3D rendering now, or once the opacity slider rests."""
        block = self.block_box.currentText()
        if self.analysis is None or block not in self.analysis.saliency:
            self.saliency = None
            self.message.setText(NO_RECORDING if self.analysis is None else NO_ATTENTION)
            self.extent.setText("")
            self.stack.setCurrentWidget(self.message)
            return
        t = min(self.timestep, self.analysis.recording.timesteps - 1)
        self.saliency = self.analysis.saliency_at(block, t, self.head)
        self.extent.setText(attention_extent(self.analysis, block, t, self.head, self.saliency))
        source = self.analysis.recording.input
        if source.ndim == 3:
            self.stack.setCurrentWidget(self.plane_2d)
            self.plane_2d.show_planes(display_image(source), self.saliency, self.opacity)
            return
        self.stack.setCurrentWidget(self.grid_3d)
        intensity = source.mean(axis=0)
        for axis, plot in self.planes_3d.items():
            plane = middle_plane(intensity, axis)
            plot.show_planes(np.ascontiguousarray(np.clip(plane * 255, 0, 255), dtype=np.uint8),
                             np.ascontiguousarray(middle_plane(self.saliency, axis)), self.opacity)
        if volume_now:
            self._draw_volume()
        else:
            self._volume_timer.start()

    def _draw_volume(self) -> None:
        self._volume_timer.stop()
        if self.saliency is None or self.analysis is None or self.analysis.recording.input.ndim != 4:
            return
        intensity = self.analysis.recording.input.mean(axis=0)
        self._ensure_volume_view().set_rgba(blended_rgba_volume(intensity, self.saliency, self.opacity))

    def capture_volume(self) -> np.ndarray | None:
        return self.volume_3d.capture() if self.volume_3d is not None else None
