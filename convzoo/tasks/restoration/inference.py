"""Inference adapter for restoration / super-resolution models (the protocol is in :mod:`convzoo.apis.adapters`).

A result holds ``pred_img``, the restored image (an H x W x 3 BGR uint8 numpy array, the input's size times the
model's scale), with ``input_size``, ``output_size`` (width, height) and ``scale``. The Inferencer writes
``pred_img`` as the output image (lossless PNG) or video frame, which the JSON names (``pred_img_file``) instead of
holding the pixels. With ``return_datasamples`` it is a BaseDataElement whose ``pred_img`` is a (3, H, W) uint8 RGB
tensor (the layout of the model's own ``pred_img``).
Large inputs are tiled according to the config's ``model.test_cfg`` (``tile``, ``tile_overlap``), and any input
above ``infer_tiling.above_pixels`` (default 2048 x 2048) is tiled even when the config does not ask for it.
Networks with an ``optimize_for_inference()`` method (ESPCN) run in that faster, equal form on CPU, made on the
first prediction, once the checkpoint is loaded.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import ClassVar

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import BaseDataElement

from convzoo.core.registry import MODELS
from convzoo.tasks.restoration.metrics import to_uint8_hwc

# inputs above this many pixels run in tiles (config key infer_tiling overrides): bounded memory for huge images
DEFAULT_TILING = dict(above_pixels=2048 * 2048, tile=512, overlap=32)


class RestorationTask:
    """Models of type ``RestorationModel`` in convzoo's scope: image in, restored (upscaled) image out."""

    priority = 10

    image_ext = '.png'  # lossless: the output is an image, not an annotation drawn over one
    datasample_type = BaseDataElement
    array_files: ClassVar[dict] = {'pred_img': None}  # result key -> file holding it (None: the drawn output itself)

    @classmethod
    def matches(cls, cfg: Config) -> bool:
        return cfg.get('default_scope') == 'convzoo' and cfg.model.get('type') == 'RestorationModel'

    def __init__(self, cfg: Config, **_):
        init_default_scope('convzoo')
        self.cfg = cfg
        self.scale = 1
        self.tiling = dict(DEFAULT_TILING, **cfg.get('infer_tiling', {}))

    def build_model(self) -> torch.nn.Module:
        model = MODELS.build(self.cfg.model)
        self.scale = model.scale
        return model

    def set_meta(self, checkpoint_meta: dict | None) -> None:
        pass

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the output for an input of ``size``."""
        return size[0] * self.scale, size[1] * self.scale

    @contextmanager
    def tiled_if_large(self, model: torch.nn.Module, pixels: int):
        """Above ``infer_tiling.above_pixels`` run the network in overlapping tiles (unless the config tiles
        already), so memory stays bounded whatever the image size."""
        test_cfg = model.test_cfg
        if pixels <= self.tiling['above_pixels'] or test_cfg.get('tile'):
            yield
            return
        saved = dict(test_cfg)
        test_cfg.update(tile=self.tiling['tile'], tile_overlap=self.tiling['overlap'])
        try:
            yield
        finally:
            test_cfg.clear()
            test_cfg.update(saved)

    @staticmethod
    def use_inference_form(model: torch.nn.Module) -> None:
        """Swap in the generator's inference form (CPU, eval mode; weights must already be loaded)."""
        generator = model.generator
        device = next(model.parameters()).device
        if hasattr(generator, 'optimize_for_inference') and device.type == 'cpu' and not model.training:
            model.generator = generator.optimize_for_inference()

    @torch.no_grad()
    def predict(self, model: torch.nn.Module, images: list[np.ndarray]) -> list[dict]:
        self.use_inference_form(model)
        results = []
        for image in images:  # one at a time: frames of a batch may differ in size, and outputs are large
            device = next(model.parameters()).device
            rgb = torch.from_numpy(np.ascontiguousarray(image[..., ::-1])).permute(2, 0, 1)[None].to(device)
            data = model.data_preprocessor(dict(inputs=[rgb[0]]), False)
            with self.tiled_if_large(model, image.shape[0] * image.shape[1]):
                sample = model.predict(data['inputs'], data['data_samples'], with_baseline=False)[0]
            out = to_uint8_hwc(sample.pred_img)[..., ::-1]
            results.append(dict(pred_img=np.ascontiguousarray(out), input_size=list(image.shape[1::-1]),
                                output_size=list(out.shape[1::-1]), scale=self.scale))
        return results

    def to_json(self, result: dict) -> dict:
        return {key: result[key] for key in ('input_size', 'output_size', 'scale')}

    def fill_datasample(self, sample: BaseDataElement, result: dict) -> None:
        sample.pred_img = torch.from_numpy(np.ascontiguousarray(result['pred_img'][..., ::-1])).permute(2, 0, 1)

    def draw(self, image: np.ndarray, result: dict) -> np.ndarray:
        return result['pred_img']


ADAPTER = RestorationTask
