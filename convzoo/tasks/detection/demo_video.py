"""A short video made from the embedded detection data, and its annotated version through the inference API.

``make demo`` (tools/demo.py) can call :func:`annotated_demo_video` after training to show video inference: the
clip holds each held-out image for a moment with a slow drift, so that the drawn boxes visibly follow the objects.
"""
from __future__ import annotations

import os
import os.path as osp

import cv2
import numpy as np

from convzoo.tasks.embedded import ensure_embedded


def write_shapes_video(path: str, dataset: str = 'coco_shapes', image_ids=range(1, 9), frames_per_image: int = 8,
                       fps: float = 8.0, drift: float = 6.0) -> str:
    """Write an MP4 clip of val images ``image_ids`` of an embedded dataset; returns ``path``."""
    root = ensure_embedded(dataset)
    images = [cv2.imread(str(root / 'val' / f'{i:05d}.jpg')) for i in image_ids]
    h, w = images[0].shape[:2]
    tmp = f'{path}.part.mp4'
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
    for image in images:
        for step in range(frames_per_image):
            shift = drift * (step / max(frames_per_image - 1, 1) - 0.5)
            warp = np.float32([[1, 0, shift], [0, 1, shift / 2]])
            writer.write(cv2.warpAffine(image, warp, (w, h), borderMode=cv2.BORDER_REFLECT))
    writer.release()
    os.replace(tmp, path)
    return path


def annotated_demo_video(config: str, checkpoint: str, out_dir: str, **video_kwargs) -> str:
    """Make the clip in ``out_dir`` and run the detector on it; returns the path of the drawn video."""
    from convzoo.apis import Inferencer
    os.makedirs(out_dir, exist_ok=True)
    clip = write_shapes_video(osp.join(out_dir, 'shapes_clip.mp4'), **video_kwargs)
    Inferencer(config, checkpoint)(clip, out_dir=osp.join(out_dir, 'annotated'))
    return osp.join(out_dir, 'annotated', 'shapes_clip.mp4')
