"""A tiny PNG plotter on numpy + Pillow (matplotlib is not a dependency): bar and line charts."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 900, 420
MARGIN = dict(left=70, right=20, top=40, bottom=110)
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def _canvas(title: str) -> tuple[Image.Image, ImageDraw.ImageDraw, ImageFont.ImageFont]:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.text((MARGIN["left"], 12), title, fill="black", font=font)
    return image, draw, font


def _axes(draw: ImageDraw.ImageDraw, font, y_low: float, y_high: float, ylabel: str) -> callable:
    x0, x1 = MARGIN["left"], WIDTH - MARGIN["right"]
    y0, y1 = HEIGHT - MARGIN["bottom"], MARGIN["top"]
    draw.line([(x0, y0), (x1, y0)], fill="black")
    draw.line([(x0, y0), (x0, y1)], fill="black")
    for tick in np.linspace(y_low, y_high, 6):
        y = y0 - (tick - y_low) / (y_high - y_low) * (y0 - y1)
        draw.line([(x0 - 4, y), (x1, y)], fill=(225, 225, 225))
        draw.text((5, y - 6), f"{tick:.3g}", fill="black", font=font)
    draw.text((5, y1 - 25), ylabel, fill="black", font=font)
    return lambda v: y0 - (np.clip(v, y_low, y_high) - y_low) / (y_high - y_low) * (y0 - y1)


def bar_chart(path: Path, labels: Sequence[str], values: Sequence[float], errors: Sequence[float] | None = None,
              title: str = "", ylabel: str = "", y_range: tuple[float, float] | None = None,
              colours: Sequence[int] | None = None) -> Path:
    values = np.nan_to_num(np.asarray(values, float))
    errors = np.zeros_like(values) if errors is None else np.nan_to_num(np.asarray(errors, float))
    low, high = y_range or (0.0, float(max((values + errors).max(), 1e-9)) * 1.1)
    image, draw, font = _canvas(title)
    to_y = _axes(draw, font, low, high, ylabel)
    slot = (WIDTH - MARGIN["left"] - MARGIN["right"]) / max(len(values), 1)
    for i, (value, error) in enumerate(zip(values, errors)):
        x = MARGIN["left"] + slot * (i + 0.5)
        colour = PALETTE[(colours[i] if colours is not None else i) % len(PALETTE)]
        draw.rectangle([x - slot * 0.35, to_y(value), x + slot * 0.35, to_y(low)], fill=colour)
        if error > 0:
            draw.line([(x, to_y(value - error)), (x, to_y(value + error))], fill="black", width=2)
        draw.text((x - slot * 0.4, to_y(value) - 14), f"{value:.3g}", fill="black", font=font)
        for j, part in enumerate(str(labels[i]).split("/")):
            draw.text((x - slot * 0.45, HEIGHT - MARGIN["bottom"] + 6 + 13 * j), part, fill="black", font=font)
    image.save(path)
    return path


def line_chart(path: Path, series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str = "",
               xlabel: str = "", ylabel: str = "", y_range: tuple[float, float] | None = None) -> Path:
    xs_all = np.concatenate([np.asarray(x, float) for x, _ in series.values()])
    ys_all = np.concatenate([np.asarray(y, float) for _, y in series.values()])
    low, high = y_range or (float(np.nanmin(ys_all)), float(np.nanmax(ys_all)) + 1e-9)
    x_low, x_high = float(xs_all.min()), float(xs_all.max()) + 1e-9
    image, draw, font = _canvas(title)
    to_y = _axes(draw, font, low, high, ylabel)
    x0, x1 = MARGIN["left"], WIDTH - MARGIN["right"]
    to_x = lambda v: x0 + (v - x_low) / (x_high - x_low) * (x1 - x0)  # noqa: E731
    for tick in np.linspace(x_low, x_high, 6):
        draw.text((to_x(tick) - 10, HEIGHT - MARGIN["bottom"] + 6), f"{tick:.0f}", fill="black", font=font)
    draw.text((x1 - 120, HEIGHT - MARGIN["bottom"] + 22), xlabel, fill="black", font=font)
    for i, (name, (xs, ys)) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        points = [(to_x(x), to_y(y)) for x, y in zip(xs, ys) if np.isfinite(y)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for px, py in points:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
        legend_y = HEIGHT - MARGIN["bottom"] + 40 + 13 * (i % 5)
        legend_x = MARGIN["left"] + 280 * (i // 5)
        draw.rectangle([legend_x, legend_y + 2, legend_x + 10, legend_y + 10], fill=colour)
        draw.text((legend_x + 14, legend_y), name, fill="black", font=font)
    image.save(path)
    return path
