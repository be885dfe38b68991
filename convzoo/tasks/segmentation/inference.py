"""Inference adapter for mmseg segmentors (the protocol is in :mod:`convzoo.apis.adapters`).

A result holds ``sem_seg`` (the label map: class index per pixel, an H x W uint8 numpy array, as mmseg's
``pred_sem_seg``) and ``class_fractions`` (the fraction of pixels per class present). The drawn output is a colour
overlay of the predicted classes with a legend of the classes present (most pixels first); the label map is written
as the 8-bit PNG ``<name>_labels.png``, which the JSON names (``sem_seg_file``). ``score_thr`` does not apply.
A config whose ``model.test_cfg.crf`` is set (``CRFEncoderDecoder``) refines the labels with the dense CRF.

Bounded memory: mmseg resizes the class scores to the original image size before the argmax (19 float maps: 2.7 GB
for a 6000 x 6000 image). Above ``infer_tiling.above_pixels`` (default 2048 x 2048) the scores stay at the network's
size and are resized band by band of rows (the same bilinear interpolation, through ``grid_sample``), so only a
band is ever held at full size; a CRF's labels are enlarged by nearest neighbour.
"""
from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from convzoo.tasks.adapter import PipelineAdapter, draw_legend

OVERLAY_OPACITY = 0.5
DEFAULT_TILING = dict(above_pixels=2048 * 2048, band_rows=256)


def resize_scores_to_labels(scores: torch.Tensor, size: tuple[int, int], align_corners: bool,
                            band_rows: int) -> np.ndarray:
    """argmax over classes of ``scores`` (C, h, w) bilinearly resized to ``size`` (H, W), a band of rows at a time;
    equal to resizing the whole map first (``F.interpolate``'s sampling positions, edge pixels repeated)."""
    height, width = size
    h, w = scores.shape[-2:]

    def positions(n_out: int, n_in: int, index: torch.Tensor) -> torch.Tensor:  # grid_sample's normalised coords
        if align_corners:
            return index * 2 / max(n_out - 1, 1) - 1 if n_out > 1 else torch.zeros_like(index)
        return (2 * index + 1) / n_out - 1

    xs = positions(width, w, torch.arange(width, dtype=torch.float32))
    labels = np.empty((height, width), np.uint8)
    for top in range(0, height, band_rows):
        ys = positions(height, h, torch.arange(top, min(top + band_rows, height), dtype=torch.float32))
        grid = torch.stack(torch.meshgrid(ys, xs, indexing='ij')[::-1], -1)[None].to(scores)
        band = F.grid_sample(scores[None].float(), grid, mode='bilinear', padding_mode='border',
                             align_corners=align_corners)[0]
        labels[top:top + len(ys)] = band.argmax(0).to(torch.uint8).cpu().numpy()
    return labels


class SegmentationTask(PipelineAdapter):
    """mmseg segmentors: a label map per image, drawn as a colour overlay (``score_thr`` does not apply)."""

    scope = 'mmseg'
    annotation_steps = ('LoadAnnotations', 'CheckSegSample')
    datasample_type = SegDataSample
    array_files: ClassVar[dict] = {'sem_seg': '_labels.png'}  # result key -> the file beside the drawn output

    def __init__(self, cfg, score_thr: float = 0.3):
        super().__init__(cfg, score_thr)
        self.tiling = dict(DEFAULT_TILING, **cfg.get('infer_tiling', {}))

    def default_meta(self) -> dict:
        meta = super().default_meta()
        if meta.get('classes'):
            return meta
        return dict(classes=[f'class {i}' for i in range(self.cfg.model.decode_head.num_classes)])

    def is_large(self, image: np.ndarray) -> bool:
        return image.shape[0] * image.shape[1] > self.tiling['above_pixels']

    def predict(self, model: torch.nn.Module, images: list[np.ndarray]) -> list[dict]:
        small = [image for image in images if not self.is_large(image)]
        small_labels = iter([s.pred_sem_seg.data[0].to(torch.uint8).cpu().numpy()
                             for s in (self.test_step(model, small) if small else [])])
        results = []
        for image in images:
            labels = self._large_image_labels(model, image) if self.is_large(image) else next(small_labels)
            counts = np.bincount(labels.ravel(), minlength=len(self.classes))
            fractions = {self.classes[i]: round(float(c) / labels.size, 5) for i, c in enumerate(counts) if c}
            results.append(dict(sem_seg=labels, class_fractions=fractions))
        return results

    def _large_image_labels(self, model: torch.nn.Module, image: np.ndarray) -> np.ndarray:
        size = image.shape[:2]

        def keep_network_size(packed: dict) -> None:  # mmseg resizes to ori_shape: make that the network's size
            sample = packed['data_samples']
            sample.set_metainfo(dict(ori_shape=sample.metainfo['img_shape']))
        sample = self.test_step(model, [image], keep_network_size)[0]
        if (model.test_cfg or {}).get('crf') is not None:  # refined labels at the network's size
            small = sample.pred_sem_seg.data[0].to(torch.uint8).cpu().numpy()
            return cv2.resize(small, size[::-1], interpolation=cv2.INTER_NEAREST)
        return resize_scores_to_labels(sample.seg_logits.data, size, model.align_corners, self.tiling['band_rows'])

    def to_json(self, result: dict) -> dict:
        return dict(class_fractions=result['class_fractions'])

    def fill_datasample(self, sample: SegDataSample, result: dict) -> None:
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(result['sem_seg'].astype(np.int64))[None])

    def draw(self, image: np.ndarray, result: dict) -> np.ndarray:
        """The classes as a colour overlay, with a legend of the classes present, most pixels first."""
        colours = np.array([self.colour(i) for i in range(len(self.classes))], np.uint8)
        overlay = colours[result['sem_seg']]
        canvas = (image * (1 - OVERLAY_OPACITY) + overlay * OVERLAY_OPACITY).round().astype(np.uint8)
        present = sorted(result['class_fractions'].items(), key=lambda item: -item[1])
        draw_legend(canvas, [(name, self.colour(self.classes.index(name))) for name, _ in present])
        return canvas


ADAPTER = SegmentationTask
