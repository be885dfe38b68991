"""The DOTA v1.0 format and dataset.

Layout (one folder per split; ``labelTxt`` is absent for a test set without labels)::

    <data_root>/<split>/images/P0001.png
    <data_root>/<split>/labelTxt/P0001.txt

A label file may start with ``imagesource:...`` and ``gsd:...`` lines; every other line is one object::

    x1 y1 x2 y2 x3 y3 x4 y4 class-name difficult

(``difficult`` 0/1, or 2 for an object truncated by patch splitting; a missing flag reads as 0). Polygons become
le90 rotated boxes (minimum-area rectangles). Bad lines raise :class:`LabelFileError` naming file and line;
degenerate polygons (zero area) are skipped with a warning naming file and line, since real label files contain a
few of them.
"""
from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass, field

import numpy as np
from mmdet.datasets import BaseDetDataset
from mmdet.registry import DATASETS
from mmengine.logging import print_log

from convzoo.core.embedded import GeneratesEmbeddedData
from convzoo.core.errors import LabelFileError
from convzoo.structures.rotated_boxes import DegeneratePolygonError, poly_to_rbox

DOTA_V1_CLASSES = ('plane', 'baseball-diamond', 'bridge', 'ground-track-field', 'small-vehicle', 'large-vehicle',
                   'ship', 'tennis-court', 'basketball-court', 'storage-tank', 'soccer-ball-field', 'roundabout',
                   'harbor', 'swimming-pool', 'helicopter')
DOTA_V1_PALETTE = [(165, 42, 42), (189, 183, 107), (0, 255, 0), (255, 0, 0), (138, 43, 226), (255, 128, 0),
                   (255, 0, 255), (0, 255, 255), (255, 193, 193), (0, 51, 153), (255, 250, 205), (0, 139, 139),
                   (255, 255, 0), (147, 116, 116), (0, 0, 255)]
HEADER_PREFIXES = ('imagesource', 'gsd')



@dataclass
class LabelFile:
    """Objects of one label file: polygons (N, 8), class names, difficult flags and the source line numbers."""
    polygons: np.ndarray = field(default_factory=lambda: np.zeros((0, 8)))
    names: list[str] = field(default_factory=list)
    difficult: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lines: list[int] = field(default_factory=list)


def read_label_file(path: str, classes: tuple[str, ...] | None = None, unknown: str = 'error') -> LabelFile:
    """Parse a DOTA label file. ``classes``: allowed names; ``unknown`` = 'error' or 'skip' for other names."""
    polygons, names, difficult, lines = [], [], [], []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields or fields[0].split(':')[0].lower() in HEADER_PREFIXES:
                continue
            where = f'{path}:{number}'
            if len(fields) < 9:
                raise LabelFileError(f'{where}: expected "x1 y1 ... x4 y4 class difficult" (4 points), got '
                                     f'{len(fields)} fields: {line.strip()!r}')
            try:
                coords = [float(v) for v in fields[:8]]
                flag = int(fields[9]) if len(fields) > 9 else 0
            except ValueError:
                raise LabelFileError(f'{where}: coordinates must be numbers and the difficult flag an integer: '
                                     f'{line.strip()!r}') from None
            name = fields[8]
            if classes is not None and name not in classes:
                if unknown == 'skip':
                    continue
                raise LabelFileError(f'{where}: unknown class {name!r}; the dataset classes are {list(classes)} '
                                     "(set the dataset's metainfo, or unknown_classes='skip')")
            polygons.append(coords)
            names.append(name)
            difficult.append(flag)
            lines.append(number)
    return LabelFile(np.array(polygons, np.float64).reshape(-1, 8), names, np.array(difficult, np.int64), lines)


def label_file_rboxes(label: LabelFile, path: str) -> tuple[np.ndarray, np.ndarray]:
    """le90 boxes of a label file's polygons and the mask of the usable (non-degenerate) ones."""
    boxes, keep = np.zeros((len(label.names), 5)), np.ones(len(label.names), bool)
    for i, (poly, line) in enumerate(zip(label.polygons, label.lines)):
        try:
            boxes[i] = poly_to_rbox(poly[None], f'{path}:{line}')[0]
        except DegeneratePolygonError as err:
            print_log(f'skipping a degenerate object: {err}', logger='current', level=30)
            keep[i] = False
    return boxes, keep


def write_label_file(path: str, polygons: np.ndarray, names: list[str], difficult) -> None:
    with open(path, 'w') as f:
        for poly, name, flag in zip(polygons, names, difficult):
            f.write(' '.join(f'{v:.2f}' for v in poly) + f' {name} {int(flag)}\n')


def image_size(path: str) -> tuple[int, int]:
    """(width, height) from the image header."""
    from PIL import Image
    with Image.open(path) as img:
        return img.size


@DATASETS.register_module()
class DOTADataset(GeneratesEmbeddedData, BaseDetDataset):
    """DOTA v1.0-format dataset of le90 rotated boxes (use ``LoadAnnotations(box_type='rbox')``); a ``data_root``
    naming an embedded dataset (``data/embedded/dota_objects``) is generated first when missing.

    Args:
        ann_file: the ``labelTxt`` folder relative to ``data_root`` ('' for unlabelled test images).
        data_prefix: ``dict(img='images/')``.
        img_suffix: image file extension.
        ignore_difficult: mark difficult objects (flag > 0) as ignored; use it for evaluation, not for training.
        unknown_classes: 'error' (default) or 'skip' for objects whose class is not in the metainfo.
    """

    METAINFO = dict(classes=DOTA_V1_CLASSES, palette=DOTA_V1_PALETTE)

    def __init__(self, *args, img_suffix: str = 'png', ignore_difficult: bool = False,
                 unknown_classes: str = 'error', **kwargs):
        if unknown_classes not in ('error', 'skip'):
            raise ValueError(f"unknown_classes must be 'error' or 'skip', got {unknown_classes!r}")
        self.img_suffix, self.ignore_difficult = img_suffix.lstrip('.'), ignore_difficult
        self.unknown_classes = unknown_classes
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> list[dict]:
        img_dir = self.data_prefix.get('img', '')
        if not osp.isdir(img_dir):
            raise FileNotFoundError(f'DOTADataset: image folder {img_dir} does not exist')
        ann_dir = self.ann_file if self.ann_file and osp.isdir(self.ann_file) else None
        if self.ann_file and ann_dir is None:
            raise FileNotFoundError(f'DOTADataset: label folder {self.ann_file} does not exist')
        classes = tuple(self.metainfo['classes'])
        names = sorted(f for f in os.listdir(img_dir) if f.lower().endswith('.' + self.img_suffix.lower()))
        if not names:
            raise FileNotFoundError(f'DOTADataset: no *.{self.img_suffix} images in {img_dir}')
        data_list = []
        for name in names:
            stem = osp.splitext(name)[0]
            img_path = osp.join(img_dir, name)
            width, height = image_size(img_path)
            info = dict(img_path=img_path, img_id=stem, file_name=name, width=width, height=height, instances=[])
            label_path = osp.join(ann_dir, stem + '.txt') if ann_dir else None
            if label_path and osp.isfile(label_path):
                info['instances'] = self._instances(label_path, classes)
            data_list.append(info)
        return data_list

    def _instances(self, label_path: str, classes: tuple[str, ...]) -> list[dict]:
        label = read_label_file(label_path, classes, self.unknown_classes)
        boxes, keep = label_file_rboxes(label, label_path)
        return [dict(bbox=boxes[i].tolist(), bbox_label=classes.index(label.names[i]),
                     ignore_flag=int(self.ignore_difficult and label.difficult[i] > 0), polygon=label.polygons[i])
                for i in np.flatnonzero(keep)]

    def filter_data(self) -> list[dict]:
        if self.test_mode or not (self.filter_cfg or {}).get('filter_empty_gt', False):
            return self.data_list
        return [d for d in self.data_list if any(not i['ignore_flag'] for i in d['instances'])]
