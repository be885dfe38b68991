"""The embedded COCO-format detection dataset ``coco_shapes``.

Filled discs, rectangles and triangles in random colours with a contrasting outline, at sizes from a few pixels
to half the image, pasted without overlap onto random crops of real photographs (scikit-image's bundled images).
Boxes are exact: they come from the shapes' geometry. Deterministic for a given seed.

``EmbeddedCocoDataset`` (the demo configs' dataset type) is mmdet's ``CocoDataset`` that generates an embedded
``data_root`` (``data/embedded/coco_shapes``, ``.../coco_shapes_tiny``) on first use, so mmdet's own tools and
``mim`` train the demos from any directory.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from convzoo.core.embedded import GeneratesEmbeddedData, bundled_photos, register_embedded

CLASSES = ('disc', 'rectangle', 'triangle')
SHAPES_VERSION = '2'
# split name -> (number of images, seed, object size range in pixels)
SPLITS = {'train': (640, 0, (10, 72)), 'val': (96, 1, (10, 72))}
IMAGE_SIZE = 160


def _background(rng: np.random.Generator, photos: list[np.ndarray], size: int) -> np.ndarray:
    photo = photos[rng.integers(len(photos))]
    h, w = photo.shape[:2]
    side = int(rng.uniform(0.35, 1.0) * min(h, w))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = cv2.resize(photo[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def _colour(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(170, 256), rng.integers(170, 256)]]])
    fill = tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])
    outline = (0, 0, 0) if rng.random() < 0.5 else (255, 255, 255)
    return fill, outline


def _shape_points(rng: np.random.Generator, label: int, size: float, cx: float, cy: float) -> np.ndarray:
    """Outline points of a shape of about ``size`` pixels centred near (cx, cy)."""
    if label == 0:  # disc
        t = np.linspace(0, 2 * math.pi, 64, endpoint=False)
        return np.stack([cx + size / 2 * np.cos(t), cy + size / 2 * np.sin(t)], 1)
    if label == 1:  # rectangle, aspect ratio between 1:2 and 2:1
        aspect = math.exp(rng.uniform(-0.7, 0.7))
        w, h = size * math.sqrt(aspect), size / math.sqrt(aspect)
        return np.array([[cx - w / 2, cy - h / 2], [cx + w / 2, cy - h / 2], [cx + w / 2, cy + h / 2],
                         [cx - w / 2, cy + h / 2]])
    angles = rng.uniform(0, 2 * math.pi) + np.array([0, 2.1, 4.2]) + rng.uniform(-0.3, 0.3, 3)
    return np.stack([cx + size / 2 * np.cos(angles), cy + size / 2 * np.sin(angles)], 1)


def _iou_any(box: np.ndarray, boxes: list[np.ndarray], margin: float = 2.0) -> bool:
    for other in boxes:
        if (box[0] - margin < other[2] and other[0] - margin < box[2] and box[1] - margin < other[3]
                and other[1] - margin < box[3]):
            return True
    return False


def render_image(rng: np.random.Generator, photos: list[np.ndarray], size: int, size_range: tuple[int, int],
                 max_objects: int = 6):
    """One image and its objects as (x1, y1, x2, y2, label) rows."""
    img = np.ascontiguousarray(_background(rng, photos, size))
    boxes, labels = [], []
    for _ in range(rng.integers(1, max_objects + 1)):
        for _attempt in range(30):
            label = int(rng.integers(len(CLASSES)))
            obj = math.exp(rng.uniform(math.log(size_range[0]), math.log(size_range[1])))
            cx, cy = rng.uniform(obj / 2, size - obj / 2, 2)
            pts = _shape_points(rng, label, obj, cx, cy)
            box = np.concatenate([pts.min(0), pts.max(0)]).clip(0, size)
            if box[2] - box[0] >= 4 and box[3] - box[1] >= 4 and not _iou_any(box, boxes):
                break
        else:
            continue
        fill, outline = _colour(rng)
        # OpenCV puts integer coordinates at pixel centres, COCO at pixel corners: shift by half a pixel.
        poly = np.round((pts - 0.5) * 16).astype(np.int32)  # 4 fractional bits: sub-pixel outlines
        cv2.fillPoly(img, [poly], fill, lineType=cv2.LINE_AA, shift=4)
        cv2.polylines(img, [poly], True, outline, thickness=1, lineType=cv2.LINE_AA, shift=4)
        boxes.append(box)
        labels.append(label)
    return img, np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64)


def write_coco_split(root: Path, split: str, count: int, seed: int, size_range, image_size: int = IMAGE_SIZE,
                     photos: list[np.ndarray] | None = None) -> Path:
    """Write ``root/<split>/*.jpg`` and ``root/annotations/<split>.json``; returns the JSON path."""
    photos = photos or list(bundled_photos().values())
    rng = np.random.default_rng(seed)
    (root / split).mkdir(parents=True, exist_ok=True)
    (root / 'annotations').mkdir(exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, count + 1):
        img, boxes, labels = render_image(rng, photos, image_size, size_range)
        name = f'{split}/{image_id:05d}.jpg'
        cv2.imwrite(str(root / name), img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        images.append(dict(id=image_id, file_name=name, width=image_size, height=image_size))
        for (x1, y1, x2, y2), label in zip(boxes.tolist(), labels.tolist()):
            w, h = x2 - x1, y2 - y1
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id, category_id=label + 1,
                                    bbox=[round(x1, 2), round(y1, 2), round(w, 2), round(h, 2)],
                                    area=round(w * h, 2), iscrowd=0))
    categories = [dict(id=i + 1, name=n, supercategory='shape') for i, n in enumerate(CLASSES)]
    ann_path = root / 'annotations' / f'{split}.json'
    ann_path.write_text(json.dumps(dict(images=images, annotations=annotations, categories=categories)))
    return ann_path


@register_embedded('coco_shapes', version=SHAPES_VERSION)
def build_coco_shapes(root: Path) -> None:
    photos = list(bundled_photos().values())
    for split, (count, seed, size_range) in SPLITS.items():
        write_coco_split(root, split, count, seed, size_range, photos=photos)


@DATASETS.register_module()
class EmbeddedCocoDataset(GeneratesEmbeddedData, CocoDataset):
    """mmdet's ``CocoDataset``; a ``data_root`` naming an embedded dataset is generated first when missing."""
