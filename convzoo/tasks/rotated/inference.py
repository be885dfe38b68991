"""Inference adapter for rotated detectors (the protocol is in :mod:`convzoo.apis.adapters`).

Serves configs whose model uses a rotated head or whose test set is a :class:`DOTADataset`; it outranks the plain
detection adapter. Images larger than the patch size are split into overlapping patches, detected patch by patch
and merged with rotated NMS (``infer_split = dict(size=1024, gap=200, iou_thr=0.1)`` in the config, or the
defaults). Results carry le90 boxes ``(cx, cy, w, h, theta)`` and their 4-point polygons; drawings are polygons.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from mmengine.config import Config

from convzoo.core.config import walk
from convzoo.structures.rotated_boxes import rbox_to_poly
from convzoo.tasks.detection.inference import DetectionTask
from convzoo.tasks.rotated.dota import DOTADataset
from convzoo.tasks.rotated.metric import boxes_to_numpy
from convzoo.tasks.rotated.split import predict_large_image

ROTATED_MODEL_TYPES = ('RotatedRetinaHead', 'OrientedRCNN')
DEFAULT_SPLIT = dict(size=1024, gap=200, iou_thr=0.1)


def is_rotated_config(cfg: Config) -> bool:
    """A config with a rotated head (by type name) or a DOTA-format test set."""
    types = {str(v.get('type')).split('.')[-1] for _, v in walk(cfg.get('model', {})) if isinstance(v, dict)}
    dataset = cfg.get('test_dataloader', {}).get('dataset', {}) if isinstance(cfg.get('test_dataloader'), dict) \
        else {}
    return bool(types & set(ROTATED_MODEL_TYPES)) or str(dataset.get('type', '')).endswith('DOTADataset')


class RotatedDetectionTask(DetectionTask):
    """Rotated detectors: le90 boxes, polygons, scores and labels; large images split and merged."""

    priority = 10  # outranks the plain detection adapter

    @classmethod
    def matches(cls, cfg: Config) -> bool:
        return super().matches(cfg) and is_rotated_config(cfg)

    def __init__(self, cfg: Config, score_thr: float = 0.3):
        super().__init__(cfg, score_thr)
        self.split = dict(DEFAULT_SPLIT, **cfg.get('infer_split', {}))

    def default_meta(self) -> dict:
        return DOTADataset.METAINFO

    def _predict_patches(self, model: torch.nn.Module, patches: list[np.ndarray]) -> list[tuple]:
        return [(boxes_to_numpy(s.pred_instances.bboxes), s.pred_instances.scores.cpu().numpy(),
                 s.pred_instances.labels.cpu().numpy()) for s in self.test_step(model, patches)]

    def predict(self, model: torch.nn.Module, images: list[np.ndarray]) -> list[dict]:
        results = []
        for image in images:
            boxes, scores, labels = predict_large_image(
                image, lambda patches: self._predict_patches(model, patches), self.split['size'],
                self.split['gap'], self.split['iou_thr'])
            keep = scores >= self.score_thr
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep].astype(int)
            results.append(dict(rboxes=boxes.round(3).tolist(), polygons=rbox_to_poly(boxes).round(2).tolist(),
                                scores=scores.round(4).tolist(), labels=labels.tolist(),
                                class_names=[self.classes[i] for i in labels], box_format='le90 cx cy w h theta'))
        return results

    def draw(self, image: np.ndarray, result: dict) -> np.ndarray:
        canvas = image.copy()
        thickness = max(1, round(min(image.shape[:2]) / 400))
        for poly, score, label in zip(result['polygons'], result['scores'], result['labels']):
            points = np.round(np.asarray(poly).reshape(4, 2) - 0.5).astype(np.int32)
            colour = self.palette[label][::-1]  # RGB palette -> BGR canvas
            cv2.polylines(canvas, [points], True, colour, thickness, cv2.LINE_AA)
            top = points[points[:, 1].argmin()]
            cv2.putText(canvas, f'{self.classes[label]} {score:.2f}', (int(top[0]), max(int(top[1]) - 3, 8)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.3 * thickness, colour, 1, cv2.LINE_AA)
        return canvas


ADAPTER = RotatedDetectionTask
