"""Inference adapter for mmseg segmentors (the protocol is in :mod:`convzoo.apis.adapters`).

Per image: the drawn output is a colour overlay of the predicted classes, ``extra_images`` adds the label map
(class index per pixel, 8-bit PNG ``<name>_labels.png``), and the JSON lists the fraction of pixels per class.
A config whose ``model.test_cfg.crf`` is set (``CRFEncoderDecoder``) refines the labels with the dense CRF.
"""
from __future__ import annotations

import numpy as np
import torch

from convzoo.tasks.adapter import PipelineAdapter

OVERLAY_OPACITY = 0.5


class SegmentationTask(PipelineAdapter):
    """mmseg segmentors: a label map per image, drawn as a colour overlay (``score_thr`` does not apply)."""

    scope = 'mmseg'
    annotation_steps = ('LoadAnnotations', 'CheckSegSample')

    def default_meta(self) -> dict:
        meta = super().default_meta()
        if meta.get('classes'):
            return meta
        return dict(classes=[f'class {i}' for i in range(self.cfg.model.decode_head.num_classes)])

    def predict(self, model: torch.nn.Module, images: list[np.ndarray]) -> list[dict]:
        results = []
        for sample in self.test_step(model, images):
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


ADAPTER = SegmentationTask
