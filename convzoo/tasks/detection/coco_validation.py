"""Validation of COCO-format annotation files, so that a broken file stops with a message naming the problem."""
from __future__ import annotations

import json
from pathlib import Path

from convzoo.core.errors import AnnotationError


def _require(cond: bool, path, msg: str) -> None:
    if not cond:
        raise AnnotationError(f'{path}: not a valid COCO annotation file: {msg}')


def validate_coco_file(ann_file: str | Path, image_root: str | Path | None = None) -> dict:
    """Check the structure of a COCO detection file (and, given ``image_root``, that its images exist).

    Returns the parsed JSON. Raises :class:`AnnotationError` naming the file and the first offending entry.
    """
    path = Path(ann_file)
    if not path.is_file():
        raise AnnotationError(f'{path}: annotation file does not exist')
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise AnnotationError(f'{path}: not valid JSON ({err})') from None
    _require(isinstance(data, dict), path, 'the top level must be an object')
    for key in ('images', 'annotations', 'categories'):
        _require(isinstance(data.get(key), list), path, f'missing or non-list key "{key}"')
    image_ids = set()
    for i, img in enumerate(data['images']):
        _require(isinstance(img, dict) and {'id', 'file_name'} <= set(img), path,
                 f'images[{i}] needs "id" and "file_name"')
        _require(img['id'] not in image_ids, path, f'images[{i}]: duplicate id {img["id"]}')
        image_ids.add(img['id'])
        if image_root is not None and not (Path(image_root) / img['file_name']).is_file():
            raise AnnotationError(f'{path}: images[{i}] refers to {Path(image_root) / img["file_name"]}, '
                                  'which does not exist')
    cat_ids = set()
    for i, cat in enumerate(data['categories']):
        _require(isinstance(cat, dict) and {'id', 'name'} <= set(cat), path,
                 f'categories[{i}] needs "id" and "name"')
        cat_ids.add(cat['id'])
    for i, ann in enumerate(data['annotations']):
        _require(isinstance(ann, dict), path, f'annotations[{i}] is not an object')
        bbox = ann.get('bbox')
        _require(isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox),
                 path, f'annotations[{i}]: "bbox" must be [x, y, w, h]')
        _require(bbox[2] >= 0 and bbox[3] >= 0, path, f'annotations[{i}]: negative box size {bbox}')
        _require(ann.get('image_id') in image_ids, path,
                 f'annotations[{i}]: image_id {ann.get("image_id")!r} is not in "images"')
        _require(ann.get('category_id') in cat_ids, path,
                 f'annotations[{i}]: category_id {ann.get("category_id")!r} is not in "categories"')
    return data
