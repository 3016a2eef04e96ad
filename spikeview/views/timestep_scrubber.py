"""A timestep cursor with play/pause and speed: `timestep_changed` asks for a timestep, `show_timestep`
moves the cursor to the one chosen."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QStyle, QWidget

SPEEDS = {"0.5 steps/s": 0.5, "1 step/s": 1.0, "2 steps/s": 2.0, "5 steps/s": 5.0, "10 steps/s": 10.0, "30 steps/s": 30.0}


class TimestepScrubber(QWidget):
    timestep_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timesteps = 1
        self.play_button = QPushButton("Play")  # the style's media icons: drawn, not a font's glyph
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self.set_playing)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._on_slider)
        self.speed_box = QComboBox()
        self.speed_box.addItems(list(SPEEDS))
        self.speed_box.setCurrentText("2 steps/s")
        self.speed_box.currentTextChanged.connect(lambda _t: self._apply_speed())
        self.label = QLabel("t = 1 / 1")
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.step_forward)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for widget in (self.play_button, self.slider, self.label, self.speed_box):
            layout.addWidget(widget)
        layout.setStretch(1, 1)
        self._apply_speed()

    @property
    def timestep(self) -> int:
        return self.slider.value()

    def set_timesteps(self, timesteps: int) -> None:
        self.timesteps = max(1, int(timesteps))
        self.slider.setRange(0, self.timesteps - 1)
        self.show_timestep(min(self.timestep, self.timesteps - 1))

    def set_timestep(self, timestep: int) -> None:
        """Ask for a timestep (emitted even when it is the current one)."""
        if timestep == self.slider.value():
            self.timestep_changed.emit(timestep)
        self.slider.setValue(timestep)

    def show_timestep(self, timestep: int) -> None:
        """Move the cursor without asking for anything (the session decided the timestep)."""
        self.slider.blockSignals(True)
        self.slider.setValue(timestep)
        self.slider.blockSignals(False)
        self._update_label()

    def step_forward(self) -> None:
        self.set_timestep((self.timestep + 1) % self.timesteps)

    def set_playing(self, playing: bool) -> None:
        if self.play_button.isChecked() != playing:
            self.play_button.setChecked(playing)  # re-enters through toggled
            return
        self.play_button.setText("Pause" if playing else "Play")
        self.play_button.setIcon(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay))
        if playing:
            self.timer.start()
        else:
            self.timer.stop()

    def _apply_speed(self) -> None:
        self.timer.setInterval(round(1000 / SPEEDS[self.speed_box.currentText()]))

    def _on_slider(self, value: int) -> None:
        self._update_label()
        self.timestep_changed.emit(value)

    def _update_label(self) -> None:
        self.label.setText(f"t = {self.timestep + 1} / {self.timesteps}")
