"""Form widgets shared by the panels, and `OptionForm`: fields built from `engine.options`."""
from __future__ import annotations

from dataclasses import fields

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QLayout, QSpinBox, QVBoxLayout, QWidget

from engine.options import Option, TrainConfig


def spin_box(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin


def settings_column(parent: QWidget, form: QLayout, buttons: QLayout, *below: QWidget) -> QVBoxLayout:
    """A panel's left column: the form, its buttons, then progress/status widgets, packed to the top."""
    column = QVBoxLayout(parent)
    column.addLayout(form)
    column.addLayout(buttons)
    for widget in below:
        column.addWidget(widget)
    column.addStretch(1)
    return column


class OptionForm(QFormLayout):
    """One field per `TrainConfig` option that has a form label, in the options' order, with their
    defaults, choices and limits. `choices` gives the values of options that have none of their own
    (datasets and models, from the catalog and the registry), possibly empty until `set_choices`."""

    def __init__(self, choices: dict[str, list]) -> None:
        super().__init__()
        self.widgets: dict[str, QWidget] = {}
        self._kinds: dict[str, str] = {}
        defaults = TrainConfig()
        for item in fields(TrainConfig):
            how: Option = item.metadata["option"]
            if how.label:
                offered = choices[item.name] if item.name in choices else how.choices
                widget = self._field(how, offered, item.type, item.name in choices)
                self.widgets[item.name], self._kinds[item.name] = widget, item.type
                self.addRow(how.label, widget)
        self.set_values(defaults)

    @staticmethod
    def _field(how: Option, choices, kind: str, listed: bool = False) -> QWidget:
        """A combo box for choices (`listed`: choices that may arrive later), else a spin box."""
        if choices or listed:
            box = QComboBox()
            box.addItems([str(value) for value in choices])
            return box
        if kind == "float":
            spin = QDoubleSpinBox()
            spin.setDecimals(5)
            low = how.minimum or 0.0
            spin.setRange(low + 1e-5 if how.strict else low, how.maximum)
            spin.setSingleStep(how.step or 0.1)
            if how.off_text:
                spin.setSpecialValueText(how.off_text)
            return spin
        spin = QSpinBox()
        spin.setRange(0 if how.off_text else int(how.minimum or 0), int(how.maximum))
        if how.off_text:
            spin.setSpecialValueText(how.off_text)
        return spin

    def set_choices(self, name: str, choices: list) -> None:
        """Replace the values a choice field offers (keeping the current one when it is among them)."""
        box: QComboBox = self.widgets[name]
        current = box.currentText()
        box.clear()
        box.addItems([str(value) for value in choices])
        if current:
            box.setCurrentText(current)

    def values(self) -> dict:
        """The form's values, as `TrainConfig` fields (0 in an "off" field with a None default is None)."""
        values = {}
        for name, widget in self.widgets.items():
            kind = self._kinds[name]
            if isinstance(widget, QComboBox):
                text = widget.currentText()
                values[name] = int(text) if kind == "int" else text
            elif kind == "int | None":
                values[name] = widget.value() or None
            else:
                values[name] = widget.value()
        return values

    def set_values(self, config: TrainConfig) -> None:
        for name, widget in self.widgets.items():
            value = getattr(config, name)
            if isinstance(widget, QComboBox):
                widget.setCurrentText(str(value))
            else:
                widget.setValue(value or 0)
