"""Inference adapter for mmdet detectors (the protocol is in :mod:`convzoo.apis.adapters`)."""
from __future__ import annotations

import cv2
import numpy as np
import torch
from mmengine.config import Config

from convzoo.tasks.adapter import PipelineAdapter


class DetectionTask(PipelineAdapter):
    """mmdet detectors: boxes, scores and labels with class names."""

    scope = 'mmdet'

    @classmethod
    def matches(cls, cfg: Config) -> bool:
        return cfg.get('default_scope', 'mmdet') == cls.scope

    def predict(self, model: torch.nn.Module, images: list[np.ndarray]) -> list[dict]:
        results = []
        for sample in self.test_step(model, images):
            inst = sample.pred_instances
            keep = inst.scores >= self.score_thr
            labels = inst.labels[keep].tolist()
            results.append(dict(boxes=inst.bboxes[keep].round(decimals=2).tolist(),
                                scores=inst.scores[keep].round(decimals=4).tolist(), labels=labels,
                                class_names=[self.classes[i] for i in labels]))
        return results

    def draw(self, image: np.ndarray, result: dict) -> np.ndarray:
        canvas = image.copy()
        thickness = max(1, round(min(image.shape[:2]) / 300))
        for box, score, label in zip(result['boxes'], result['scores'], result['labels']):
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            colour = self.palette[label][::-1]  # RGB palette -> BGR canvas
            cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
            text = f'{self.classes[label]} {score:.2f}'
            scale = 0.35 * thickness
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            ty = y1 - 2 if y1 - th - 4 >= 0 else y2 + th + 2
            cv2.rectangle(canvas, (x1, ty - th - 2), (x1 + tw + 2, ty + 2), colour, -1)
            cv2.putText(canvas, text, (x1 + 1, ty), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                        cv2.LINE_AA)
        return canvas


ADAPTER = DetectionTask
