"""The embedded DOTA-format dataset ``dota_objects``.

Four DOTA classes drawn as simple top-down sprites (plane: fuselage, swept wings and tail; ship: hull with a bow and
a deck house; large-vehicle: trailer and cab; tennis-court: court with lines and net) at random sizes and at known
angles over the full circle, pasted without overlap onto textures and photographs bundled with scikit-image (grass,
gravel, brick, moon surface, ...). Each object's polygon is the exact rotated rectangle its sprite fills, so the
labels are exact. Objects shorter than 16 px are flagged difficult. Deterministic for a given seed.

Layout: full images ``{train,val}/{images,labelTxt}`` (384 x 384) and their patches as the DOTA protocol makes
them, ``split_256/{train,val}/{images,labelTxt}`` (256 x 256 patches, gap 64).
"""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import torch

from convzoo.core.embedded import bundled_photos, register_embedded
from convzoo.structures.rotated_boxes import rbox_to_poly, rotated_iou
from convzoo.tasks.rotated.dota import write_label_file
from convzoo.tasks.rotated.split import split_folder

CLASSES = ('plane', 'ship', 'large-vehicle', 'tennis-court')
VERSION = '1'
IMAGE_SIZE = 384
PATCH_SIZE, PATCH_GAP = 256, 64
SPLITS = {'train': (96, 0), 'val': (24, 1)}  # split -> (number of full images, seed)
BACKGROUNDS = ('grass', 'gravel', 'brick', 'moon', 'coffee', 'rocket', 'camera', 'coins', 'astronaut')
DIFFICULT_BELOW = 16  # px, long side
# class -> (long side range px, aspect (long/short) range)
GEOMETRY = {0: ((22, 64), (1.15, 1.4)), 1: ((20, 80), (2.8, 4.5)), 2: ((18, 56), (2.4, 3.6)),
            3: ((40, 90), (1.9, 2.2))}

# Sprite parts in unit box coordinates: u along the width (long) side, v along the height, both in [-0.5, 0.5].
Part = tuple[list[tuple[float, float]], str]
SPRITES: dict[int, list[Part]] = {
    0: [([(-0.5, -0.08), (0.42, -0.08), (0.5, 0), (0.42, 0.08), (-0.5, 0.08)], 'body'),
        ([(0.12, -0.06), (-0.12, -0.5), (-0.22, -0.5), (-0.08, -0.06), (-0.08, 0.06), (-0.22, 0.5), (-0.12, 0.5),
          (0.12, 0.06)], 'body'),
        ([(-0.36, -0.06), (-0.46, -0.22), (-0.5, -0.22), (-0.45, 0), (-0.5, 0.22), (-0.46, 0.22), (-0.36, 0.06)],
         'body')],
    1: [([(-0.5, -0.5), (0.25, -0.5), (0.5, 0), (0.25, 0.5), (-0.5, 0.5)], 'body'),
        ([(-0.3, -0.25), (0.0, -0.25), (0.0, 0.25), (-0.3, 0.25)], 'detail')],
    2: [([(-0.5, -0.5), (0.22, -0.5), (0.22, 0.5), (-0.5, 0.5)], 'body'),
        ([(0.27, -0.45), (0.5, -0.45), (0.5, 0.45), (0.27, 0.45)], 'detail')],
    3: [([(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)], 'body'),
        ([(-0.42, -0.4), (0.42, -0.4), (0.42, 0.4), (-0.42, 0.4)], 'line'),
        ([(-0.38, -0.34), (0.38, -0.34), (0.38, 0.34), (-0.38, 0.34)], 'body'),
        ([(-0.015, -0.5), (0.015, -0.5), (0.015, 0.5), (-0.015, 0.5)], 'line')],
}


def _palette(rng: np.random.Generator, label: int) -> dict[str, tuple[int, ...]]:
    if label == 3:  # courts: green, blue or terracotta with white lines
        body = [(60, 140, 70), (50, 90, 160), (170, 90, 60)][rng.integers(3)]
        return dict(body=body, line=(245, 245, 245), detail=body)
    grey = int(rng.integers(150, 245))
    body = (grey, grey, grey) if label == 0 else tuple(int(c) for c in rng.integers(40, 230, 3))
    return dict(body=body, detail=tuple(int(c * 0.55) for c in body), line=body)


def _background(rng: np.random.Generator, photos: dict[str, np.ndarray], size: int) -> np.ndarray:
    photo = photos[BACKGROUNDS[rng.integers(len(BACKGROUNDS))]]
    h, w = photo.shape[:2]
    side = int(rng.uniform(0.4, 1.0) * min(h, w))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = cv2.resize(photo[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.rot90(crop, rng.integers(4)))


def _draw(img: np.ndarray, box: np.ndarray, label: int, colours: dict) -> None:
    cx, cy, w, h, theta = box
    u = np.array([math.cos(theta), math.sin(theta)]) * w
    v = np.array([-math.sin(theta), math.cos(theta)]) * h
    for points, role in SPRITES[label]:
        xy = np.array([cx, cy]) + np.array(points) @ np.stack([u, v])
        # OpenCV puts integer coordinates at pixel centres, DOTA at pixel corners: shift by half a pixel.
        cv2.fillPoly(img, [np.round((xy - 0.5) * 16).astype(np.int32)], colours[role], cv2.LINE_AA, shift=4)


def render_image(rng: np.random.Generator, photos: dict[str, np.ndarray], size: int = IMAGE_SIZE,
                 max_objects: int = 10):
    """One image (RGB) and its objects as le90 boxes (N, 5) and labels."""
    img = _background(rng, photos, size)
    boxes, labels = [], []
    for _ in range(rng.integers(3, max_objects + 1)):
        for _attempt in range(40):
            label = int(rng.integers(len(CLASSES)))
            (low, high), (amin, amax) = GEOMETRY[label]
            long_side = math.exp(rng.uniform(math.log(low), math.log(high)))
            box = np.array([*rng.uniform(0, size, 2), long_side, long_side / rng.uniform(amin, amax),
                            rng.uniform(-math.pi / 2, math.pi / 2)])
            corners = rbox_to_poly(box).reshape(4, 2)
            inside = (corners >= 1).all() and (corners <= size - 1).all()
            grown = torch.tensor(box[None] * [1, 1, 1.15, 1.3, 1], dtype=torch.float32)
            placed = torch.tensor(np.array(boxes).reshape(-1, 5), dtype=torch.float32)
            if inside and (not boxes or rotated_iou(grown, placed).max() == 0):
                break
        else:
            continue
        _draw(img, box, label, _palette(rng, label))
        boxes.append(box)
        labels.append(label)
    return img, np.array(boxes).reshape(-1, 5), np.array(labels, np.int64)


def write_split(root: Path, count: int, seed: int, photos: dict[str, np.ndarray]) -> None:
    (root / 'images').mkdir(parents=True)
    (root / 'labelTxt').mkdir()
    rng = np.random.default_rng(seed)
    for index in range(count):
        img, boxes, labels = render_image(rng, photos)
        stem = f'P{index:04d}'
        cv2.imwrite(str(root / 'images' / f'{stem}.jpg'), img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        difficult = (boxes[:, 2] < DIFFICULT_BELOW).astype(int)
        write_label_file(str(root / 'labelTxt' / f'{stem}.txt'), rbox_to_poly(boxes), [CLASSES[i] for i in labels],
                         difficult)


@register_embedded('dota_objects', version=VERSION)
def build_dota_objects(root: Path) -> None:
    photos = bundled_photos()
    for split, (count, seed) in SPLITS.items():
        write_split(root / split, count, seed, photos)
        split_folder(str(root / split), str(root / f'split_{PATCH_SIZE}' / split), PATCH_SIZE, PATCH_GAP,
                     img_suffix='jpg')
