"""Inference adapter for mmseg segmentors (see ``convzoo.apis.tasks`` for the adapter protocol).

Per image: the drawn output is a colour overlay of the predicted classes, ``extra_images`` adds the label map
(class index per pixel, 8-bit PNG ``<name>_labels.png``), and the JSON lists the fraction of pixels per class.
A config whose ``model.test_cfg.crf`` is set (``CRFEncoderDecoder``) refines the labels with the dense CRF.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

from convzoo.apis.tasks import register_task
from convzoo.tasks.detection.inference import palette_for

ANNOTATION_STEPS = ('LoadAnnotations', 'CheckSegSample')
OVERLAY_OPACITY = 0.5


@register_task(priority=0)
class SegmentationTask:
    """mmseg segmentors: a label map per image, drawn as a colour overlay."""

    scope = 'mmseg'

    @classmethod
    def matches(cls, cfg: Config) -> bool:
        return cfg.get('default_scope') == cls.scope

    def __init__(self, cfg: Config, score_thr: float = 0.3):
        init_default_scope(self.scope)
        self.cfg = cfg  # score_thr does not apply to segmentation
        pipeline = [t for t in copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
                    if not any(step in t['type'] for step in ANNOTATION_STEPS)]
        pipeline[0] = dict(type='mmseg.LoadImageFromNDArray')
        self.pipeline = Compose(pipeline)
        self.classes: tuple[str, ...] = ()
        self.palette: list = []

    def build_model(self) -> torch.nn.Module:
        from mmseg.registry import MODELS
        return MODELS.build(self.cfg.model)

    def set_meta(self, checkpoint_meta: dict | None) -> None:
        dataset = self.cfg.test_dataloader.dataset
        meta = (checkpoint_meta or {}).get('dataset_meta') or dataset.get('metainfo') or {}
        if not meta.get('classes'):
            from mmseg.registry import DATASETS
            meta = getattr(DATASETS.get(dataset.type), 'METAINFO', {})
        num_classes = self.cfg.model.decode_head.num_classes
        self.classes = tuple(meta.get('classes') or (f'class {i}' for i in range(num_classes)))
        self.palette = palette_for(len(self.classes), meta.get('palette'))

    @torch.no_grad()
    def predict(self, model: torch.nn.Module, images: list[np.ndarray]) -> list[dict]:
        batch = pseudo_collate([self.pipeline(dict(img=img)) for img in images])
        results = []
        for sample in model.test_step(batch):
            labels = sample.pred_sem_seg.data[0].to(torch.uint8).cpu().numpy()
            counts = np.bincount(labels.ravel(), minlength=len(self.classes))
            fractions = {self.classes[i]: round(float(c) / labels.size, 5) for i, c in enumerate(counts) if c}
            results.append(dict(class_fractions=fractions, _label_map=labels))
        return results

    def draw(self, image: np.ndarray, result: dict) -> np.ndarray:
        colours = np.array([p[::-1] for p in self.palette], np.uint8)  # RGB palette -> BGR canvas
        overlay = colours[result['_label_map']]
        return (image * (1 - OVERLAY_OPACITY) + overlay * OVERLAY_OPACITY).round().astype(np.uint8)

    def extra_images(self, result: dict) -> dict[str, np.ndarray]:
        return {'_labels.png': result['_label_map']}
