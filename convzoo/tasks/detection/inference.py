"""Inference adapter for mmdet detectors (the protocol is in :mod:`convzoo.apis.adapters`).

A result has mmdet's keys (those of ``DetInferencer``'s dicts): ``bboxes`` (x1, y1, x2, y2 in input pixels),
``scores``, ``labels`` and ``label_names``, as lists, with every prediction the model keeps (its own
``test_cfg.score_thr`` and ``max_per_img``). ``score_thr`` applies to the drawing and the JSON only.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.structures import InstanceData

from convzoo.tasks.adapter import LabelLayout, PipelineAdapter, line_thickness

BOX_DECIMALS, SCORE_DECIMALS = 2, 4  # JSON: a hundredth of a pixel, scores to 1e-4


def rounded(values, decimals: int) -> list:
    """``values`` (nested lists of floats) rounded, for JSON without float noise (112.97, not 112.97000122)."""
    return [rounded(v, decimals) if isinstance(v, (list, tuple)) else round(float(v), decimals) for v in values]


class DetectionTask(PipelineAdapter):
    """mmdet detectors: boxes, scores and labels with class names."""

    scope = 'mmdet'
    datasample_type = DetDataSample

    @classmethod
    def matches(cls, cfg: Config) -> bool:
        return cfg.get('default_scope', 'mmdet') == cls.scope

    def predict(self, model: torch.nn.Module, images: list[np.ndarray]) -> list[dict]:
        results = []
        for sample in self.test_step(model, images):
            inst = sample.pred_instances
            labels = inst.labels.tolist()
            results.append(dict(bboxes=inst.bboxes.tolist(), scores=inst.scores.tolist(), labels=labels,
                                label_names=[self.classes[i] for i in labels]))
        return results

    def kept(self, result: dict) -> list[int]:
        """Indices of the predictions at or above ``score_thr`` (what is drawn and written), in the model's order."""
        return [i for i, score in enumerate(result['scores']) if score >= self.score_thr]

    def best_first(self, result: dict) -> list[int]:
        """The kept predictions by score, best first: drawn in this order, the most confident labels get their
        preferred place."""
        return sorted(self.kept(result), key=lambda i: -result['scores'][i])

    def to_json(self, result: dict) -> dict:
        """The predictions at or above ``score_thr``, rounded, and the threshold used."""
        keep = self.kept(result)
        return dict(bboxes=self.json_boxes([result['bboxes'][i] for i in keep]),
                    scores=rounded([result['scores'][i] for i in keep], SCORE_DECIMALS),
                    labels=[result['labels'][i] for i in keep], label_names=[result['label_names'][i] for i in keep],
                    score_thr=self.score_thr)

    def json_boxes(self, boxes: list) -> list:
        return rounded(boxes, BOX_DECIMALS)

    def fill_datasample(self, sample: DetDataSample, result: dict) -> None:
        sample.pred_instances = self.instances(result, torch.tensor(result['bboxes']).reshape(-1, 4))

    @staticmethod
    def instances(result: dict, boxes) -> InstanceData:
        """mmdet's ``pred_instances`` of a result, with ``boxes`` (a tensor or a box type) as the bboxes."""
        return InstanceData(bboxes=boxes, scores=torch.tensor(result['scores'], dtype=torch.float32),
                            labels=torch.tensor(result['labels'], dtype=torch.long))

    def label_text(self, result: dict, i: int) -> str:
        return f'{self.classes[result["labels"][i]]} {result["scores"][i]:.2f}'

    def draw(self, image: np.ndarray, result: dict) -> np.ndarray:
        """Boxes at or above ``score_thr`` in their class colour, then their labels."""
        canvas = image.copy()
        keep = self.best_first(result)
        thickness = line_thickness(image.shape)
        for i in keep:
            x1, y1, x2, y2 = (round(v) for v in result['bboxes'][i])
            cv2.rectangle(canvas, (x1, y1), (x2, y2), self.colour(result['labels'][i]), thickness, cv2.LINE_AA)
        layout = LabelLayout(canvas)
        for i in keep:
            layout.draw(self.label_text(result, i), self.colour(result['labels'][i]), result['bboxes'][i])
        return canvas


ADAPTER = DetectionTask
