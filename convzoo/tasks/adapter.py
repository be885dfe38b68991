"""What the tasks' inference adapters share (the protocol is in :mod:`convzoo.apis.adapters`).

:class:`PipelineAdapter` serves models that take the config's test pipeline (mmdet detectors, mmseg segmentors):
it builds that pipeline without its annotation steps, starting from an in-memory image, builds the model from the
host library's registry, reads class names and palette from the checkpoint (else the config, else the dataset
class) and runs ``model.test_step`` on a batch of images.
"""
from __future__ import annotations

import copy
import importlib

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope


def palette_for(n: int, given=None) -> list[tuple[int, int, int]]:
    """``n`` RGB colours: the dataset's own palette when it has enough, else evenly spaced hues."""
    if given and len(given) >= n:
        return [tuple(int(c) for c in p) for p in given[:n]]
    hsv = np.stack([np.arange(n) * 180 // max(n, 1), np.full(n, 200), np.full(n, 255)], 1).astype(np.uint8)
    return [tuple(int(c) for c in p) for p in cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0]]


class PipelineAdapter:
    """Base of the adapters whose model runs the config's test pipeline; subclasses set the class attributes."""

    scope = 'mmdet'  # the host library: its registry builds the model and its LoadImageFromNDArray starts the pipeline
    priority = 0  # the adapter with the highest priority among those that match a config serves it
    annotation_steps: tuple[str, ...] = ('LoadAnnotations',)  # pipeline steps that need ground truth

    @classmethod
    def matches(cls, cfg: Config) -> bool:
        return cfg.get('default_scope') == cls.scope

    def __init__(self, cfg: Config, score_thr: float = 0.3):
        init_default_scope(cfg.get('default_scope', self.scope))
        self.cfg, self.score_thr = cfg, score_thr
        pipeline = [t for t in copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
                    if not any(step in t['type'] for step in self.annotation_steps)]
        pipeline[0] = dict(type=f'{self.scope}.LoadImageFromNDArray')
        self.pipeline = Compose(pipeline)
        self.classes: tuple[str, ...] = ()
        self.palette: list = []

    def build_model(self) -> torch.nn.Module:
        return importlib.import_module(f'{self.scope}.registry').MODELS.build(self.cfg.model)

    def default_meta(self) -> dict:
        """Class names (and palette) when neither the checkpoint nor the config names them."""
        registry = importlib.import_module(f'{self.scope}.registry').DATASETS
        return getattr(registry.get(self.cfg.test_dataloader.dataset.type), 'METAINFO', {})

    def set_meta(self, checkpoint_meta: dict | None) -> None:
        meta = (checkpoint_meta or {}).get('dataset_meta') or self.cfg.test_dataloader.dataset.get('metainfo') or {}
        if not meta.get('classes'):
            meta = self.default_meta()
        self.classes = tuple(meta['classes'])
        self.palette = palette_for(len(self.classes), meta.get('palette'))

    @torch.no_grad()
    def test_step(self, model: torch.nn.Module, images: list[np.ndarray], edit=None) -> list:
        """The model's data samples for a batch of BGR images; ``edit(packed)`` may change each packed input."""
        packed = [self.pipeline(dict(img=img, img_id=i)) for i, img in enumerate(images)]
        for item in packed if edit is not None else ():
            edit(item)
        return model.test_step(pseudo_collate(packed))
