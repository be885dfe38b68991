"""Splitting large aerial images into overlapping patches, and merging patch detections back.

DOTA images are up to ~4000x4000 pixels; detectors train and test on patches (1024x1024, gap 200 in the usual
single-scale protocol). Windows start every ``size - gap`` pixels and the last one is flush with the image's right
/ bottom edge, so every pixel is covered and neighbouring windows overlap by at least ``gap``. An image not larger
than the patch is one window (as a file it is padded at the bottom/right to the patch size).

Patches are named ``<image>__<size>__<x>___<y>`` (mmrotate 1.x's names), which :func:`parse_patch_name` reads back.
An object goes into a patch when at least ``iof_thr`` of its area lies inside the window; it keeps its whole
polygon (shifted), and is marked difficult (2) when it is cut by the window.
"""
from __future__ import annotations

import os
import os.path as osp
import re
from typing import Callable

import cv2
import numpy as np
import torch
from mmcv.ops import batched_nms

from convzoo.tasks.rotated.dota import LabelFile, read_label_file, write_label_file

PATCH_NAME = re.compile(r'^(?P<image>.+)__(?P<size>\d+)__(?P<x>\d+)___(?P<y>\d+)$')
PAD_VALUE = (104, 116, 124)  # BGR; close to the ImageNet mean, as mmrotate's split tool


def window_starts(length: int, size: int, gap: int) -> list[int]:
    if size <= gap:
        raise ValueError(f'patch size ({size}) must be larger than the gap ({gap})')
    if length <= size:
        return [0]
    starts = list(range(0, length - size, size - gap))
    return starts + [length - size] if starts[-1] != length - size else starts


def split_windows(width: int, height: int, size: int = 1024, gap: int = 200) -> np.ndarray:
    """(K, 4) windows ``x1 y1 x2 y2`` covering an image, clipped to the image."""
    return np.array([(x, y, min(x + size, width), min(y + size, height))
                     for y in window_starts(height, size, gap) for x in window_starts(width, size, gap)])


def patch_name(image_id: str, size: int, x: int, y: int) -> str:
    return f'{image_id}__{size}__{x}___{y}'


def parse_patch_name(name: str) -> tuple[str, int, int]:
    """``P0001__1024__824___0`` -> ('P0001', 824, 0)."""
    found = PATCH_NAME.match(name)
    if not found:
        raise ValueError(f'{name!r} is not a patch name of the form <image>__<size>__<x>___<y>')
    return found['image'], int(found['x']), int(found['y'])


def polygon_iof(polygons: np.ndarray, window) -> np.ndarray:
    """Fraction of each polygon's area that lies inside the window (x1, y1, x2, y2)."""
    from shapely.geometry import Polygon, box
    clip = box(*window)
    out = np.zeros(len(polygons))
    for i, poly in enumerate(polygons):
        shape = Polygon(poly.reshape(-1, 2))
        shape = shape if shape.is_valid else shape.convex_hull
        out[i] = shape.intersection(clip).area / shape.area if shape.area > 0 else 0.0
    return out


def objects_in_window(label: LabelFile, window, iof_thr: float = 0.7) -> LabelFile:
    """The objects of a patch, in patch coordinates; cut objects become difficult (2)."""
    iof = polygon_iof(label.polygons, window)
    keep = np.flatnonzero(iof >= iof_thr)
    shift = np.tile(np.asarray(window[:2], np.float64), 4)
    difficult = np.where(iof[keep] < 1 - 1e-6, 2, label.difficult[keep])
    return LabelFile(label.polygons[keep] - shift, [label.names[i] for i in keep], difficult,
                     [label.lines[i] for i in keep])


def crop_patch(image: np.ndarray, window, size: int, pad_value=PAD_VALUE) -> np.ndarray:
    """The window's pixels, padded at the bottom/right to ``size`` x ``size``."""
    x1, y1, x2, y2 = (int(v) for v in window)
    patch = np.empty((size, size, image.shape[2]), image.dtype)
    patch[...] = np.asarray(pad_value[:image.shape[2]], image.dtype)
    patch[:y2 - y1, :x2 - x1] = image[y1:y2, x1:x2]
    return patch


def split_folder(src: str, dst: str, size: int = 1024, gap: int = 200, iof_thr: float = 0.7,
                 img_suffix: str = 'png', keep_empty: bool = False) -> int:
    """Split ``src/images`` (+ ``src/labelTxt`` if present) into ``dst/images`` and ``dst/labelTxt``.

    Returns the number of patches written; patches without objects are skipped unless ``keep_empty`` (or the
    split has no labels, e.g. a test set).
    """
    labelled = osp.isdir(osp.join(src, 'labelTxt'))
    os.makedirs(osp.join(dst, 'images'), exist_ok=True)
    if labelled:
        os.makedirs(osp.join(dst, 'labelTxt'), exist_ok=True)
    count = 0
    for name in sorted(os.listdir(osp.join(src, 'images'))):
        stem, ext = osp.splitext(name)
        if ext.lower() != '.' + img_suffix:
            continue
        image = cv2.imread(osp.join(src, 'images', name), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f'{osp.join(src, "images", name)}: cannot be read as an image')
        label = read_label_file(osp.join(src, 'labelTxt', stem + '.txt')) if labelled else LabelFile()
        for window in split_windows(image.shape[1], image.shape[0], size, gap):
            objects = objects_in_window(label, window, iof_thr)
            if labelled and not objects.names and not keep_empty:
                continue
            out = patch_name(stem, size, int(window[0]), int(window[1]))
            cv2.imwrite(osp.join(dst, 'images', f'{out}.{img_suffix}'), crop_patch(image, window, size))
            if labelled:
                write_label_file(osp.join(dst, 'labelTxt', f'{out}.txt'), objects.polygons, objects.names,
                                 objects.difficult)
            count += 1
    return count


def merge_patch_detections(patches, iou_thr: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patch detections ``[(x, y, boxes (N, 5), scores, labels), ...]`` -> one image's, via class-wise rotated NMS."""
    boxes = [np.asarray(b, np.float64).reshape(-1, 5) + np.array([x, y, 0, 0, 0]) for x, y, b, _, _ in patches]
    boxes = np.concatenate(boxes) if boxes else np.zeros((0, 5))
    scores = np.concatenate([np.asarray(s, np.float64).reshape(-1) for _, _, _, s, _ in patches] or [np.zeros(0)])
    labels = np.concatenate([np.asarray(c, np.int64).reshape(-1) for _, _, _, _, c in patches]
                            or [np.zeros(0, np.int64)])
    if not len(boxes):
        return boxes, scores, labels
    _, keep = batched_nms(torch.from_numpy(boxes).float(), torch.from_numpy(scores).float(),
                          torch.from_numpy(labels), dict(type='nms_rotated', iou_threshold=iou_thr))
    keep = keep.numpy()
    return boxes[keep], scores[keep], labels[keep]


def predict_large_image(image: np.ndarray, predict_patches: Callable[[list[np.ndarray]], list[tuple]],
                        size: int = 1024, gap: int = 200, iou_thr: float = 0.1, batch_size: int = 4):
    """Detect on a large image patch by patch and merge. ``predict_patches(patches)`` returns, per patch,
    ``(boxes (N, 5), scores, labels)`` in patch pixels. Images not larger than ``size`` are predicted whole."""
    height, width = image.shape[:2]
    if height <= size and width <= size:
        return tuple(np.asarray(a) for a in predict_patches([image])[0])
    windows = split_windows(width, height, size, gap)
    found = []
    for start in range(0, len(windows), batch_size):
        chunk = windows[start:start + batch_size]
        outputs = predict_patches([crop_patch(image, w, size) for w in chunk])
        found += [(int(w[0]), int(w[1]), *out) for w, out in zip(chunk, outputs)]
    return merge_patch_detections(found, iou_thr)
