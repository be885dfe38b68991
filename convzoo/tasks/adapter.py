"""What the tasks' inference adapters share (the protocol is in :mod:`convzoo.apis.adapters`).

:class:`PipelineAdapter` serves models that take the config's test pipeline (mmdet detectors, mmseg segmentors):
it builds that pipeline without its annotation steps, starting from an in-memory image, builds the model from the
host library's registry, reads class names and palette from the checkpoint (else the config, else the dataset
class) and runs ``model.test_step`` on a batch of images.

Drawing that stays readable at any size: :func:`text_style` sizes label text relative to the image (legible at
160 px, not tiny at 1333 px), :class:`LabelLayout` draws labels on a filled background in the class colour with a
contrasting text colour and places each where it stays inside the image and, where avoidable, clear of the labels
already drawn; :func:`draw_legend` draws a colour legend (swatch and name per class).
"""
from __future__ import annotations

import copy
import importlib
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_TEXT_PX = 9  # the smallest label text that stays legible (a 160 px image)
TEXT_FRACTION = 0.02  # label text height relative to the image's geometric mean side
FONT_PX_AT_SCALE_1 = cv2.getTextSize('Ag', FONT, 1.0, 1)[0][1]


def palette_for(n: int, given=None) -> list[tuple[int, int, int]]:
    """``n`` RGB colours: the dataset's own palette when it has enough, else evenly spaced hues."""
    if given and len(given) >= n:
        return [tuple(int(c) for c in p) for p in given[:n]]
    hsv = np.stack([np.arange(n) * 180 // max(n, 1), np.full(n, 200), np.full(n, 255)], 1).astype(np.uint8)
    return [tuple(int(c) for c in p) for p in cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0]]


def line_thickness(shape: Sequence[int]) -> int:
    """Box outline width for an image of ``shape``: 1 px up to ~450 px, growing with the image."""
    return max(1, round((shape[0] * shape[1]) ** 0.5 / 300))


@dataclass(frozen=True)
class TextStyle:
    """Label text for one image: OpenCV font scale and stroke, and the padding around the text."""
    height: int  # pixels above the baseline
    scale: float
    thickness: int
    pad: int

    def size(self, text: str) -> tuple[int, int]:
        """(width, height) of ``text`` on its background box, padding included."""
        (width, height), baseline = cv2.getTextSize(text, FONT, self.scale, self.thickness)
        return width + 2 * self.pad, height + baseline + 2 * self.pad


def text_style(shape: Sequence[int]) -> TextStyle:
    """Label text sized relative to the image: ``TEXT_FRACTION`` of sqrt(height x width), at least
    ``MIN_TEXT_PX`` (9 px at 160 x 160, 27 px at 1333 x 1333)."""
    height = max(MIN_TEXT_PX, round(TEXT_FRACTION * (shape[0] * shape[1]) ** 0.5))
    return TextStyle(height, height / FONT_PX_AT_SCALE_1, max(1, round(height / 14)), max(1, height // 5))


def contrasting(colour: Sequence[int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on the BGR ``colour`` (by its luma)."""
    blue, green, red = colour
    return (0, 0, 0) if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else (255, 255, 255)


def put_text(canvas: np.ndarray, text: str, corner: tuple[int, int], style: TextStyle, colour) -> None:
    """``text`` with the top-left corner of its padded box at ``corner``."""
    x, y = corner
    cv2.putText(canvas, text, (x + style.pad, y + style.pad + style.height), FONT, style.scale, colour,
                style.thickness, cv2.LINE_AA)


def overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class LabelLayout:
    """Labels drawn on one image: each on a filled box in its colour, placed at the first candidate position that
    lies inside the image and covers no label drawn before it, else the first free place straight below that
    position. Draw the most important label first: it gets its first choice, and a label with no free place is left
    out rather than drawn over a better one (in a crowded scene the picture keeps the best labels readable; the
    boxes are all drawn and the results and JSON list every prediction). Collision tests look only at the labels
    sharing the label's columns, and the search down the image is one pass over them."""

    def __init__(self, canvas: np.ndarray):
        self.canvas = canvas
        self.style = text_style(canvas.shape)
        self.taken: list[tuple[int, int, int, int]] = []  # x1, y1, x2, y2 of the labels drawn

    def candidates(self, region: Sequence[float], width: int, height: int, centre_x: float | None = None):
        """Top-left corners around ``region`` (x1, y1, x2, y2), preferred first: above it, inside its top, below
        it, inside its bottom; left-aligned with it, or centred on ``centre_x``."""
        x1, y1, _, y2 = (round(v) for v in region)
        x = x1 if centre_x is None else round(centre_x - width / 2)
        return [(x, y1 - height), (x, y1), (x, y2), (x, y2 - height)]

    def _inside(self, x: int, y: int, width: int, height: int) -> tuple[int, int] | None:
        """The corner moved sideways into the image, or None when it leaves the image at the top or bottom."""
        image_h, image_w = self.canvas.shape[:2]
        if y < 0 or y + height > image_h:
            return None
        return min(max(x, 0), max(image_w - width, 0)), y

    def _column(self, x: int, width: int) -> list[tuple[int, int, int, int]]:
        """The labels drawn that share columns with a label from x to x + width, top first."""
        return sorted((t for t in self.taken if t[0] < x + width and x < t[2]), key=lambda t: t[1])

    def place(self, width: int, height: int, corners: list[tuple[int, int]]) -> tuple[int, int] | None:
        """Where a label of width x height goes (its top-left corner), given its preferred ``corners``; None when
        every place there would cover a label drawn before."""
        inside = [c for c in (self._inside(x, y, width, height) for x, y in corners) if c]
        columns = {}  # the collision tests look only at the labels in the label's columns (one x for all corners)
        for x, y in inside:
            if x not in columns:
                columns[x] = self._column(x, width)
            if not any(t[1] < y + height and y < t[3] for t in columns[x]):
                return x, y
        start = inside[0] if inside else self._inside(corners[0][0], 0, width, height)
        if start is None:  # taller than the image
            return None
        x, y = start
        # down the image from the first choice: labels in the way, top first, each moving the label below it; the
        # first gap tall enough is found in one pass (a label above the gap ends above it, once passed)
        for t in columns[x] if x in columns else self._column(x, width):
            if t[1] >= y + height:
                break
            y = max(y, t[3])
        return (x, y) if y + height <= self.canvas.shape[0] else None

    def draw(self, text: str, colour: Sequence[int], region: Sequence[float], centre_x: float | None = None):
        """Draw ``text`` on a box of BGR ``colour`` next to ``region``; returns the label's x1, y1, x2, y2, or None
        when it had no free place and was left out."""
        width, height = self.style.size(text)
        corner = self.place(width, height, self.candidates(region, width, height, centre_x))
        if corner is None:
            return None
        x, y = corner
        rect = (x, y, x + width, y + height)
        cv2.rectangle(self.canvas, (x, y), (rect[2] - 1, rect[3] - 1), tuple(int(c) for c in colour), -1)
        put_text(self.canvas, text, (x, y), self.style, contrasting(colour))
        self.taken.append(rect)
        return rect


LEGEND_SHADE = 0.35  # the legend panel darkens what lies under it to this fraction


def draw_legend(canvas: np.ndarray, entries: list[tuple[str, Sequence[int]]]) -> tuple[int, int, int, int] | None:
    """A legend in the top-right corner: per entry (name, BGR colour) a swatch in that colour and the name, on a
    darkened panel; rows that do not fit end in '+N more'. Returns the panel's x1, y1, x2, y2 (None: no entries)."""
    if not entries:
        return None
    style = text_style(canvas.shape)
    row = style.size('Ag')[1]
    image_h, image_w = canvas.shape[:2]
    fits = max(1, (image_h - 2 * style.pad) // row)
    shown = entries if len(entries) <= fits else entries[:fits - 1]
    texts = [name for name, _ in shown] + ([f'+{len(entries) - len(shown)} more'] if len(shown) < len(entries) else [])
    width = min(image_w, row + max(style.size(t)[0] for t in texts))
    x1, y1 = image_w - width, 0
    x2, y2 = image_w, min(image_h, len(texts) * row + 2 * style.pad)
    canvas[y1:y2, x1:x2] = (canvas[y1:y2, x1:x2] * LEGEND_SHADE).astype(np.uint8)
    for i, text in enumerate(texts):
        top = y1 + style.pad + i * row
        if i < len(shown):
            swatch = tuple(int(c) for c in shown[i][1])
            cv2.rectangle(canvas, (x1 + style.pad, top + style.pad), (x1 + row - style.pad, top + row - style.pad),
                          swatch, -1)
        put_text(canvas, text, (x1 + row, top), style, (255, 255, 255))
    return x1, y1, x2, y2


class PipelineAdapter:
    """Base of the adapters whose model runs the config's test pipeline; subclasses set the class attributes."""

    scope = 'mmdet'  # the host library: its registry builds the model and its LoadImageFromNDArray starts the pipeline
    priority = 0  # the adapter with the highest priority among those that match a config serves it
    annotation_steps: tuple[str, ...] = ('LoadAnnotations',)  # pipeline steps that need ground truth

    @classmethod
    def matches(cls, cfg: Config) -> bool:
        return cfg.get('default_scope') == cls.scope

    def __init__(self, cfg: Config, score_thr: float = 0.3):
        init_default_scope(cfg.get('default_scope', self.scope))
        self.cfg, self.score_thr = cfg, score_thr
        pipeline = [t for t in copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
                    if not any(step in t['type'] for step in self.annotation_steps)]
        pipeline[0] = dict(type=f'{self.scope}.LoadImageFromNDArray')
        self.pipeline = Compose(pipeline)
        self.classes: tuple[str, ...] = ()
        self.palette: list = []

    def build_model(self) -> torch.nn.Module:
        return importlib.import_module(f'{self.scope}.registry').MODELS.build(self.cfg.model)

    def default_meta(self) -> dict:
        """Class names (and palette) when neither the checkpoint nor the config names them."""
        registry = importlib.import_module(f'{self.scope}.registry').DATASETS
        return getattr(registry.get(self.cfg.test_dataloader.dataset.type), 'METAINFO', {})

    def set_meta(self, checkpoint_meta: dict | None) -> None:
        meta = (checkpoint_meta or {}).get('dataset_meta') or self.cfg.test_dataloader.dataset.get('metainfo') or {}
        if not meta.get('classes'):
            meta = self.default_meta()
        self.classes = tuple(meta['classes'])
        self.palette = palette_for(len(self.classes), meta.get('palette'))

    def colour(self, label: int) -> tuple[int, int, int]:
        """The BGR drawing colour of class ``label`` (the palette is RGB, the canvas BGR)."""
        return self.palette[label][::-1]

    @torch.no_grad()
    def test_step(self, model, images: list[np.ndarray], edit=None) -> list:
        """The model's data samples for a batch of BGR images; ``edit(packed)`` may change each packed input."""
        packed = [self.pipeline(dict(img=img, img_id=i)) for i, img in enumerate(images)]
        for item in packed if edit is not None else ():
            edit(item)
        return model.test_step(pseudo_collate(packed))
