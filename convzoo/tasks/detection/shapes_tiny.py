"""The embedded COCO-format dataset ``coco_shapes_tiny``: the ``coco_shapes`` generator with tiny objects only.

Same classes, backgrounds and drawing as ``coco_shapes`` (:mod:`convzoo.tasks.detection.shapes`), but every
object is 4-16 px across, i.e. in AI-TOD's "very tiny" (2-8 px) and "tiny" (8-16 px) bins, so that
``SizeBinCocoMetric`` can check a tiny-object method such as DN-FPN.
"""
from __future__ import annotations

from pathlib import Path

from convzoo.core.embedded import bundled_photos, register_embedded
from convzoo.tasks.detection.shapes import write_coco_split

TINY_VERSION = '1'
# split name -> (number of images, seed, object size range in pixels); seeds differ from coco_shapes'
TINY_SPLITS = {'train': (640, 10, (4, 16)), 'val': (96, 11, (4, 16))}


@register_embedded('coco_shapes_tiny', version=TINY_VERSION)
def build_coco_shapes_tiny(root: Path) -> None:
    photos = list(bundled_photos().values())
    for split, (count, seed, size_range) in TINY_SPLITS.items():
        write_coco_split(root, split, count, seed, size_range, photos=photos)
