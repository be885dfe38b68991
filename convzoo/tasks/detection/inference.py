"""Inference adapter for mmdet detectors (see ``convzoo.apis.tasks`` for the adapter protocol)."""
from __future__ import annotations

import copy

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

from convzoo.apis.tasks import register_task


def palette_for(n: int, given=None) -> list[tuple[int, int, int]]:
    if given and len(given) >= n:
        return [tuple(int(c) for c in p) for p in given[:n]]
    hsv = np.stack([np.arange(n) * 180 // max(n, 1), np.full(n, 200), np.full(n, 255)], 1).astype(np.uint8)
    return [tuple(int(c) for c in p) for p in cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0]]


@register_task(priority=0)
class DetectionTask:
    """mmdet detectors: boxes, scores and labels with class names."""

    scope = 'mmdet'

    @classmethod
    def matches(cls, cfg: Config) -> bool:
        return cfg.get('default_scope', 'mmdet') == cls.scope

    def __init__(self, cfg: Config, score_thr: float = 0.3):
        init_default_scope(cfg.get('default_scope', self.scope))
        self.cfg, self.score_thr = cfg, score_thr
        pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
        pipeline = [t for t in pipeline if 'LoadAnnotations' not in t['type']]
        pipeline[0] = dict(type='mmdet.LoadImageFromNDArray')
        self.pipeline = Compose(pipeline)
        self.classes: tuple[str, ...] = ()
        self.palette: list = []

    def build_model(self) -> torch.nn.Module:
        from mmdet.registry import MODELS
        return MODELS.build(self.cfg.model)

    def set_meta(self, checkpoint_meta: dict | None) -> None:
        meta = (checkpoint_meta or {}).get('dataset_meta') or self.cfg.test_dataloader.dataset.get('metainfo') or {}
        if not meta.get('classes'):
            from mmdet.datasets import CocoDataset
            meta = CocoDataset.METAINFO
        self.classes = tuple(meta['classes'])
        self.palette = palette_for(len(self.classes), meta.get('palette'))

    @torch.no_grad()
    def predict(self, model: torch.nn.Module, images: list[np.ndarray]) -> list[dict]:
        batch = pseudo_collate([self.pipeline(dict(img=img, img_id=i)) for i, img in enumerate(images)])
        results = []
        for sample in model.test_step(batch):
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
