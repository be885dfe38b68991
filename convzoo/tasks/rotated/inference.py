"""Inference adapter for rotated detectors (the protocol is in :mod:`convzoo.apis.adapters`).

Serves configs whose model uses a rotated head or whose test set is a :class:`DOTADataset`; it outranks the plain
detection adapter. Images larger than the patch size are split into overlapping patches, detected patch by patch
and merged with rotated NMS (``infer_split = dict(size=1024, gap=200, iou_thr=0.1)`` in the config, or the
defaults).

A result has the detection keys: ``bboxes`` are rotated boxes ``(cx, cy, w, h, angle)`` in the le90 convention of
:mod:`convzoo.structures.rotated_boxes` (mmrotate's): pixels, ``w >= h``, ``angle`` in radians in [-pi/2, pi/2),
from the +x axis to the width side, positive clockwise as displayed (towards +y). ``polygons`` holds each box's
four corners ``(x1, y1, ..., x4, y4)``. Drawings are the polygons with their labels.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from mmengine.config import Config

from convzoo.core.config import walk
from convzoo.structures.rotated_boxes import RotatedBoxes, rbox_to_poly
from convzoo.tasks.adapter import LabelLayout, line_thickness
from convzoo.tasks.detection.inference import BOX_DECIMALS, DetectionTask, rounded
from convzoo.tasks.rotated.dota import DOTADataset
from convzoo.tasks.rotated.metric import boxes_to_numpy
from convzoo.tasks.rotated.split import predict_large_image

ROTATED_MODEL_TYPES = ('RotatedRetinaHead', 'OrientedRCNN')
DEFAULT_SPLIT = dict(size=1024, gap=200, iou_thr=0.1)
ANGLE_DECIMALS = 4  # radians: 1e-4 rad moves a 1000 px box's corner by 0.05 px


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
            labels = labels.astype(int).tolist()
            results.append(dict(bboxes=boxes.tolist(), polygons=rbox_to_poly(boxes).tolist(),
                                scores=scores.tolist(), labels=labels,
                                label_names=[self.classes[i] for i in labels]))
        return results

    def to_json(self, result: dict) -> dict:
        """As for upright boxes, with the polygons; centre, sides and corners to 0.01 px, the angle to 1e-4 rad."""
        polygons = [result['polygons'][i] for i in self.kept(result)]
        return dict(super().to_json(result), polygons=rounded(polygons, BOX_DECIMALS))

    def json_boxes(self, boxes: list) -> list:
        return [rounded(box[:4], BOX_DECIMALS) + rounded(box[4:], ANGLE_DECIMALS) for box in boxes]

    def fill_datasample(self, sample, result: dict) -> None:
        sample.pred_instances = self.instances(result, RotatedBoxes(torch.tensor(result['bboxes']).reshape(-1, 5)))

    def draw(self, image: np.ndarray, result: dict) -> np.ndarray:
        """Polygons at or above ``score_thr``, then labels on a background, centred over each polygon's top."""
        canvas = image.copy()
        keep = self.best_first(result)
        thickness = line_thickness(image.shape)
        corners = {i: np.round(np.asarray(result['polygons'][i]).reshape(4, 2) - 0.5).astype(np.int32) for i in keep}
        for i in keep:
            cv2.polylines(canvas, [corners[i]], True, self.colour(result['labels'][i]), thickness, cv2.LINE_AA)
        layout = LabelLayout(canvas)
        for i in keep:
            top = corners[i][corners[i][:, 1].argmin()]
            region = (*corners[i].min(0).tolist(), *corners[i].max(0).tolist())  # the polygon's upright extent
            layout.draw(self.label_text(result, i), self.colour(result['labels'][i]), region, centre_x=float(top[0]))
        return canvas


ADAPTER = RotatedDetectionTask
