"""The browser dock: MedMNIST datasets found under the data root (as paged thumbnail galleries per
split, filterable by class) and the scans open in the session. The files controller lists the
datasets and reads the splits in the background; a clicked thumbnail opens as the session's scan."""
from __future__ import annotations


import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QListView, QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from engine.data.medmnist import DatasetFile
from engine.data.spec import SPLITS, DatasetSpec
from spikeview.controllers.files import FilesController
from spikeview.session import OpenScan, Session


THUMB_SIZE = 64
PAGE_SIZE = 512
SAMPLE_ROLE = Qt.ItemDataRole.UserRole + 1


def thumbnail_image(sample: np.ndarray) -> QImage:
    """A stored uint8 sample (H x W, H x W x 3, or D x H x W -> middle slice) as a QImage."""
    if sample.ndim == 3 and sample.shape[-1] != 3:
        sample = sample[sample.shape[0] // 2]
    sample = np.ascontiguousarray(sample, dtype=np.uint8)
    height, width = sample.shape[:2]
    if sample.ndim == 3:
        return QImage(sample.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    return QImage(sample.data, width, height, width, QImage.Format.Format_Grayscale8).copy()


class ThumbnailModel(QAbstractListModel):
    """Samples of one split; rows arrive in pages (fetchMore) and thumbnails are made only when shown."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.spec: DatasetSpec | None = None
        self.images: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.indices = np.zeros(0, dtype=np.int64)  # sample indices passing the filter
        self.loaded = 0  # rows exposed so far
        self._pixmaps: dict[int, QPixmap] = {}
        self.thumbnails_made = 0

    def set_split(self, spec: DatasetSpec | None, images: np.ndarray | None, labels: np.ndarray | None) -> None:
        self.beginResetModel()
        self.spec, self.images, self.labels = spec, images, labels
        self._pixmaps.clear()
        self.indices = np.arange(len(images)) if images is not None else np.zeros(0, dtype=np.int64)
        self.loaded = min(PAGE_SIZE, len(self.indices))
        self.endResetModel()

    def set_class_filter(self, class_id: int | None) -> None:
        self.beginResetModel()
        self._pixmaps.clear()
        if self.labels is None:
            self.indices = np.zeros(0, dtype=np.int64)
        elif class_id is None:
            self.indices = np.arange(len(self.labels))
        elif self.spec is not None and self.spec.multi_label:
            self.indices = np.flatnonzero(self.labels[:, class_id] == 1)
        else:
            self.indices = np.flatnonzero(self.labels[:, 0] == class_id)
        self.loaded = min(PAGE_SIZE, len(self.indices))
        self.endResetModel()

    # ---- Qt model API ----------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else self.loaded

    def canFetchMore(self, parent: QModelIndex = QModelIndex()) -> bool:  # noqa: N802
        return not parent.isValid() and self.loaded < len(self.indices)

    def fetchMore(self, parent: QModelIndex = QModelIndex()) -> None:  # noqa: N802
        more = min(PAGE_SIZE, len(self.indices) - self.loaded)
        self.beginInsertRows(QModelIndex(), self.loaded, self.loaded + more - 1)
        self.loaded += more
        self.endInsertRows()

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.images is None:
            return None
        sample = int(self.indices[index.row()])
        if role == Qt.ItemDataRole.DecorationRole:
            return self._pixmap(sample)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"#{sample}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"sample {sample}: {self.label_text(sample)}"
        if role == SAMPLE_ROLE:
            return sample
        return None

    def label_text(self, sample: int) -> str:
        values = self.labels[sample]
        if self.spec.multi_label:
            return ", ".join(self.spec.labels[k] for k, v in enumerate(values) if v) or "none"
        return self.spec.labels.get(int(values[0]), str(int(values[0])))

    def _pixmap(self, sample: int) -> QPixmap:
        pixmap = self._pixmaps.get(sample)
        if pixmap is None:
            if len(self._pixmaps) > 4000:
                self._pixmaps.clear()
            pixmap = QPixmap.fromImage(thumbnail_image(self.images[sample])).scaled(
                THUMB_SIZE, THUMB_SIZE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
            )
            self._pixmaps[sample] = pixmap
            self.thumbnails_made += 1
        return pixmap


class DatasetBrowser(QWidget):
    """Datasets and open scans; a clicked thumbnail becomes the session's current scan."""

    def __init__(self, session: Session, files: FilesController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.controller = session, files
        self.files: list[DatasetFile] = []
        self.current_file: DatasetFile | None = None
        self._pending: tuple[tuple, str] | None = None  # (dataset key, split) being loaded
        self._build()
        session.scan_added.connect(self._add_scan_item)
        session.scan_removed.connect(self._remove_scan_item)
        session.current_changed.connect(self._select_scan_item)
        files.datasets_listed.connect(self.show_datasets)
        files.split_loaded.connect(self._on_split_loaded)
        files.split_failed.connect(lambda _message: self.count_label.setText("Could not load this dataset."))

    def _build(self) -> None:
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.datasets_item = QTreeWidgetItem(["Datasets"])
        self.scans_item = QTreeWidgetItem(["Open scans"])
        self.tree.addTopLevelItems([self.datasets_item, self.scans_item])
        self.tree.itemClicked.connect(self._on_tree_clicked)
        self.split_box = QComboBox()
        self.split_box.addItems(list(SPLITS))
        self.split_box.currentTextChanged.connect(lambda _s: self._load_current_split())
        self.class_box = QComboBox()
        self.class_box.currentIndexChanged.connect(self._on_class_changed)
        self.count_label = QLabel("Choose a dataset above.")
        self.model = ThumbnailModel(self)
        self.gallery = QListView()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setUniformItemSizes(True)
        self.gallery.setLayoutMode(QListView.LayoutMode.Batched)
        self.gallery.setBatchSize(256)
        self.gallery.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.gallery.setGridSize(QSize(THUMB_SIZE + 14, THUMB_SIZE + 22))
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setModel(self.model)
        self.gallery.clicked.connect(self._on_thumbnail_clicked)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Split"))
        controls.addWidget(self.split_box)
        controls.addWidget(QLabel("Class"))
        controls.addWidget(self.class_box, 1)
        gallery_panel = QWidget()
        panel_layout = QVBoxLayout(gallery_panel)
        panel_layout.setContentsMargins(0, 0, 0, 0)
        panel_layout.addLayout(controls)
        panel_layout.addWidget(self.count_label)
        panel_layout.addWidget(self.gallery, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(gallery_panel)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(splitter)

    # ---- datasets --------------------------------------------------------------------------------
    def show_datasets(self, files: list[DatasetFile]) -> None:
        """The MedMNIST files present under the session's data root, and the built-in phantoms."""
        self.files = files
        self.datasets_item.takeChildren()
        for number, dataset in enumerate(self.files):
            kind = "3D" if dataset.spec.spatial_dims == 3 else "2D"
            item = QTreeWidgetItem([f"{dataset.title}  [{kind}, {dataset.spec.num_classes} classes]"])
            item.setData(0, Qt.ItemDataRole.UserRole, ("dataset", number))
            item.setToolTip(0, str(dataset.path) if dataset.path else "generated by SpikeView: needs no file")
            self.datasets_item.addChild(item)
        on_disk = any(dataset.path is not None for dataset in files)
        self.datasets_item.setText(0, f"Datasets ({self.session.data_root})" if on_disk
                                   else f"Datasets (no MedMNIST files in {self.session.data_root})")
        self.datasets_item.setExpanded(True)
        self.scans_item.setExpanded(True)

    def open_dataset(self, dataset: DatasetFile, split: str = "train") -> None:
        self.current_file = dataset
        self.session.set_dataset(dataset)
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItem("All classes", None)
        for class_id, name in sorted(dataset.spec.labels.items()):
            self.class_box.addItem(f"{class_id}: {name}", class_id)
        self.class_box.blockSignals(False)
        self.split_box.blockSignals(True)
        self.split_box.setCurrentText(split)
        self.split_box.blockSignals(False)
        self._load_current_split()

    def _load_current_split(self) -> None:
        if self.current_file is None:
            return
        dataset, split = self.current_file, self.split_box.currentText()
        self._pending = (dataset.key, split)
        self.count_label.setText(f"Loading {dataset.title} {split}…")
        self.model.set_split(None, None, None)
        self.controller.load_split(dataset, split)

    def _on_split_loaded(self, dataset: DatasetFile, split: str, images: np.ndarray, labels: np.ndarray) -> None:
        if (dataset.key, split) == self._pending:
            self.model.set_split(dataset.spec, images, labels)
            self._on_class_changed()

    def _on_class_changed(self, *_args) -> None:
        if self.model.images is None:
            return
        self.model.set_class_filter(self.class_box.currentData())
        self.count_label.setText(f"{len(self.model.indices)} of {len(self.model.images)} samples")

    def _on_thumbnail_clicked(self, index) -> None:
        sample = index.data(SAMPLE_ROLE)
        if sample is None or self.model.spec is None:
            return
        self.controller.open_sample(self.model.spec, self.model.images[sample], self.model.labels[sample],
                                    self.split_box.currentText(), sample)

    # ---- open scans ------------------------------------------------------------------------------
    def _on_tree_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole)
        if not data:
            return
        kind, key = data
        if kind == "dataset":
            self.open_dataset(self.files[key], self.split_box.currentText())
        else:
            scan = next((s for s in self.session.scans if s.uid == key), None)
            self.session.set_current(scan)

    def _scan_item(self, scan: OpenScan) -> QTreeWidgetItem | None:
        for row in range(self.scans_item.childCount()):
            child = self.scans_item.child(row)
            if child.data(0, Qt.ItemDataRole.UserRole) == ("scan", scan.uid):
                return child
        return None

    def _add_scan_item(self, scan: OpenScan) -> None:
        dims = " x ".join(map(str, scan.volume.spatial_shape))
        item = QTreeWidgetItem([f"{scan.title}  [{scan.volume.modality}, {dims}]"])
        item.setData(0, Qt.ItemDataRole.UserRole, ("scan", scan.uid))
        item.setToolTip(0, str(scan.source) if scan.source else scan.title)
        self.scans_item.addChild(item)

    def _remove_scan_item(self, scan: OpenScan) -> None:
        item = self._scan_item(scan)
        if item is not None:
            self.scans_item.removeChild(item)

    def _select_scan_item(self, scan: OpenScan | None) -> None:
        item = self._scan_item(scan) if scan is not None else None
        if item is not None:
            self.tree.setCurrentItem(item)
