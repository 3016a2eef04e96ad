"""3D volume rendering with VTK inside Qt: presets (CT soft tissue, CT bone, MIP, MR), rotate and
zoom with the mouse (trackball camera).

VTK inside Qt needs a real X display (Xvfb in CI): under `QT_QPA_PLATFORM=offscreen` it renders
black, so `vtk_available()` is False there and the app shows a placeholder instead.
`build_pipeline` works without Qt too (the benchmark renders offscreen with it).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPoint
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.io.volume import Volume
from spikeview.views.colormaps import label_lookup_table


RENDER_PRESETS = ("CT soft tissue", "CT bone", "MIP", "MR")
MAX_RENDER_VOXELS = 12_000_000  # larger scans are rendered from every 2nd (3rd...) voxel: a 512 x 512 x 300
# CT's first shaded frame took 18 s on software OpenGL at full size, and the window waited for it


def vtk_available() -> bool:
    """True when VTK can draw inside Qt here (a real or virtual X display, not offscreen Qt)."""
    if os.environ.get("SPIKEVIEW_NO_VTK"):
        return False
    return QGuiApplication.platformName() not in ("offscreen", "minimal")


@dataclass
class VolumePipeline:
    """The VTK objects of one rendered volume."""

    image: object
    mapper: object
    volume: object
    property: object


def _vtk_image(array: np.ndarray, spacing: tuple[float, ...]):
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonDataModel import vtkImageData

    data = np.asfortranarray(array if array.dtype in (np.uint8, np.int16, np.uint16, np.float32) else array.astype(np.float32))
    image = vtkImageData()
    image.SetDimensions(*data.shape)
    image.SetSpacing(*spacing)
    scalars = numpy_to_vtk(data.ravel(order="F"), deep=True)
    image.GetPointData().SetScalars(scalars)
    return image


def apply_preset(prop, mapper, preset: str, value_range: tuple[float, float], window: tuple[float, float] | None = None) -> None:
    """Set transfer functions and blend mode for a preset name from RENDER_PRESETS."""
    from vtkmodules.vtkCommonDataModel import vtkPiecewiseFunction
    from vtkmodules.vtkRenderingCore import vtkColorTransferFunction

    low, high = value_range
    colour, opacity = vtkColorTransferFunction(), vtkPiecewiseFunction()
    if preset == "MIP":
        lo, hi = window or (low, high)
        mapper.SetBlendModeToMaximumIntensity()
        colour.AddRGBPoint(lo, 0, 0, 0)
        colour.AddRGBPoint(hi, 1, 1, 1)
        opacity.AddPoint(lo, 0.0)
        opacity.AddPoint(hi, 1.0)
    else:
        mapper.SetBlendModeToComposite()
        if preset == "CT bone":
            points = [(-1000, (0, 0, 0), 0), (150, (0.55, 0.25, 0.15), 0), (300, (0.9, 0.8, 0.7), 0.25), (1500, (1, 1, 0.95), 0.9)]
        elif preset == "CT soft tissue":
            points = [(-1000, (0, 0, 0), 0), (-200, (0.55, 0.25, 0.15), 0), (40, (0.85, 0.45, 0.35), 0.12), (300, (1, 0.9, 0.8), 0.5), (1500, (1, 1, 1), 0.8)]
        else:  # MR or anything without HU: relative to the scan's own percentiles
            lo, hi = window or (low, high)
            span = max(hi - lo, 1e-6)
            points = [(lo, (0, 0, 0), 0), (lo + 0.25 * span, (0.6, 0.45, 0.35), 0.05), (lo + 0.6 * span, (0.95, 0.85, 0.75), 0.3), (hi, (1, 1, 1), 0.6)]
        for value, rgb, alpha in points:
            colour.AddRGBPoint(value, *rgb)
            opacity.AddPoint(value, alpha)
    prop.SetColor(colour)
    prop.SetScalarOpacity(opacity)
    prop.SetInterpolationTypeToLinear()
    if preset == "MIP":
        prop.ShadeOff()
    else:
        prop.ShadeOn()


def render_step(shape: tuple[int, ...]) -> int:
    """Every how many voxels the rendering samples a volume of `shape` (1 up to MAX_RENDER_VOXELS)."""
    return max(1, math.ceil((math.prod(shape) / MAX_RENDER_VOXELS) ** (1 / 3)))


def build_pipeline(volume: Volume, renderer, preset: str = "CT soft tissue", window: tuple[float, float] | None = None) -> VolumePipeline:
    """Add `volume` to a vtkRenderer with a fixed-point ray-cast mapper (fast on software GL); a large
    volume from every `render_step`-th voxel, at the same size in millimetres."""
    from vtkmodules.vtkRenderingCore import vtkVolume, vtkVolumeProperty
    from vtkmodules.vtkRenderingVolume import vtkFixedPointVolumeRayCastMapper

    step = render_step(volume.array.shape[:3])
    image = _vtk_image(volume.array[::step, ::step, ::step], tuple(s * step for s in volume.spacing))
    mapper = vtkFixedPointVolumeRayCastMapper()
    mapper.SetInputData(image)
    mapper.SetAutoAdjustSampleDistances(1)
    prop = vtkVolumeProperty()
    apply_preset(prop, mapper, preset, volume.intensity_range(), window)
    actor = vtkVolume()
    actor.SetMapper(mapper)
    actor.SetProperty(prop)
    renderer.AddVolume(actor)
    return VolumePipeline(image, mapper, actor, prop)


def default_render_preset(volume: Volume) -> str:
    """CT soft tissue for a CT in Hounsfield units, else the MR preset (relative to the scan's window)."""
    return "CT soft tissue" if volume.modality == "CT" and volume.intensity_range()[0] < -200 else "MR"


def reset_camera_anterior(renderer) -> None:
    """Look at the patient from the front (anterior), head up."""
    camera = renderer.GetActiveCamera()
    bounds = renderer.ComputeVisiblePropBounds()
    centre = [(bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2, (bounds[4] + bounds[5]) / 2]
    camera.SetFocalPoint(*centre)
    camera.SetPosition(centre[0], centre[1] + 1000, centre[2])
    camera.SetViewUp(0, 0, 1)
    renderer.ResetCamera()


def render_to_array(render_window) -> np.ndarray:
    """The last rendered frame as (H, W, 3) uint8, top row first (vtkWindowToImageFilter)."""
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

    grabber = vtkWindowToImageFilter()
    grabber.SetInput(render_window)
    grabber.SetInputBufferTypeToRGB()
    grabber.ReadFrontBufferOff()
    grabber.Update()
    output = grabber.GetOutput()
    width, height, _ = output.GetDimensions()
    pixels = vtk_to_numpy(output.GetPointData().GetScalars()).reshape(height, width, -1)
    return np.ascontiguousarray(pixels[::-1, :, :3])


class VtkPane(QWidget):
    """A QWidget holding one VTK render window (trackball camera), or a sentence where VTK cannot draw.

    The render window is made on first use (`ensure_vtk`), not with the widget: the window of the app
    shows without waiting for VTK and its OpenGL context."""

    def __init__(self, unavailable_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.available = vtk_available()
        self.vtk_widget = self.renderer = self.render_window = None
        if not self.available:
            self.placeholder = QLabel(unavailable_text)
            self.placeholder.setWordWrap(True)
            self._layout.addWidget(self.placeholder)

    @property
    def built(self) -> bool:
        return self.vtk_widget is not None

    def ensure_vtk(self) -> bool:
        """Make the render window now (if VTK can draw here); True when there is one."""
        if not self.available or self.built:
            return self.built
        import vtkmodules.qt

        vtkmodules.qt.PyQtImpl = "PySide6"
        from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
        from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
        from vtkmodules.vtkRenderingCore import vtkRenderer
        import vtkmodules.vtkRenderingOpenGL2  # noqa: F401 - registers the OpenGL backend
        import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401

        self.vtk_widget = QVTKRenderWindowInteractor(self)
        self._layout.addWidget(self.vtk_widget)
        self.vtk_widget.show()  # made after the pane was shown: a new child stays hidden until asked
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(0.05, 0.05, 0.07)
        self.render_window = self.vtk_widget.GetRenderWindow()
        self.render_window.AddRenderer(self.renderer)
        self.interactor = self.render_window.GetInteractor()
        self.interactor.SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        self.vtk_widget.Initialize()
        return True

    def render(self) -> None:
        if self.built:
            self.render_window.Render()

    def capture(self) -> np.ndarray | None:
        """The rendered frame as (H, W, 3) uint8 (widget.grab() would be black for VTK)."""
        if not self.built:
            return None
        self.render()
        return render_to_array(self.render_window)

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.built:
            self.vtk_widget.Finalize()
        # its OpenGL context is gone: a closed pane never draws again (a late timer must not reach VTK)
        self.available, self.vtk_widget = False, None
        super().closeEvent(event)


def grab_with_renderings(widget: QWidget) -> QImage:
    """`widget` as an image, with what every visible VTK pane inside it shows painted in (a plain
    grab() leaves VTK's panes black): what is on screen, for "Save PNG" and screenshots."""
    image = widget.grab().toImage()
    ratio = image.devicePixelRatio()
    painter = QPainter(image)
    for pane in widget.findChildren(VtkPane):
        if not (pane.built and pane.isVisible() and pane.vtk_widget.isVisible()):
            continue
        frame = pane.capture()
        height, width = frame.shape[:2]
        rendered = QImage(frame.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
        rendered.setDevicePixelRatio(ratio * width / max(1, pane.vtk_widget.width() * ratio))
        painter.drawImage(pane.vtk_widget.mapTo(widget, QPoint(0, 0)), rendered)
    painter.end()
    return image


class VolumeView(VtkPane):
    """VTK volume rendering of the current scan, with its label overlay as coloured surfaces, or a
    placeholder where VTK cannot draw."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("3D rendering needs a display (VTK); the slice views work without it.", parent)
        self.pipeline: VolumePipeline | None = None
        self.label_actor = None
        self.label: Volume | None = None  # the label the surfaces were made from
        self.volume: Volume | None = None
        self.preset = "CT soft tissue"
        self.window: tuple[float, float] | None = None

    def set_volume(self, volume: Volume | None, window: tuple[float, float] | None = None) -> None:
        self.volume, self.window = volume, window
        self.pipeline = self.label_actor = self.label = None
        if volume is None or volume.spatial_ndim != 3 or min(volume.spatial_shape) < 2:
            if self.built:
                self.renderer.RemoveAllViewProps()
                self.render()
            return
        if not self.ensure_vtk():
            return
        self.renderer.RemoveAllViewProps()
        self.preset = default_render_preset(volume)
        self.pipeline = build_pipeline(volume, self.renderer, self.preset, window)
        reset_camera_anterior(self.renderer)
        self.render()

    def set_label(self, label: Volume | None, opacity: float = 0.4) -> None:
        """The label overlay as surfaces (one colour per label value, the slice views' colours), shown
        unless the overlay's opacity is 0."""
        if not self.built or self.pipeline is None:
            return
        if label is not self.label or self.label_actor is None:
            if self.label_actor is not None:
                self.renderer.RemoveActor(self.label_actor)
            self.label, self.label_actor = label, None
            if label is not None and label.array.shape == self.volume.array.shape and label.array.any():
                self.label_actor = label_surfaces(label)
                self.renderer.AddActor(self.label_actor)
        if self.label_actor is not None:
            self.label_actor.SetVisibility(opacity > 0)
        self.render()

    def set_preset(self, preset: str) -> None:
        self.preset = preset
        if self.pipeline is not None:
            apply_preset(self.pipeline.property, self.pipeline.mapper, preset, self.volume.intensity_range(), self.window)
            self.render()

    def set_window(self, low: float, high: float) -> None:
        """MIP and MR presets follow the slice views' window."""
        self.window = (low, high)
        if self.preset in ("MIP", "MR"):
            self.set_preset(self.preset)


def label_surfaces(label: Volume, max_labels: int = 16):
    """A vtkAssembly with the boundary surface of each label value (discrete flying edges), in the
    colour the slice views give it. Opaque: translucent geometry does not blend into the ray-cast volume."""
    from vtkmodules.vtkFiltersGeneral import vtkDiscreteFlyingEdges3D
    from vtkmodules.vtkRenderingCore import vtkActor, vtkAssembly, vtkPolyDataMapper

    image = _vtk_image(np.clip(label.array, 0, 255).astype(np.uint8), label.spacing)
    colours = label_lookup_table()
    assembly = vtkAssembly()
    for value in [int(v) for v in np.unique(label.array) if 0 < v < 256][:max_labels]:
        surface = vtkDiscreteFlyingEdges3D()
        surface.SetInputData(image)
        surface.SetValue(0, value)
        mapper = vtkPolyDataMapper()
        mapper.SetInputConnection(surface.GetOutputPort())
        mapper.ScalarVisibilityOff()
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(*(colours[value, :3] / 255.0))
        assembly.AddPart(actor)
    return assembly
