"""Inference adapter for restoration / super-resolution models (the protocol is in :mod:`convzoo.apis.adapters`).

The restored image is returned under ``_image`` (BGR uint8, the input's size times the model's scale); the
Inferencer writes it as the output image or video frame and keeps ``_``-prefixed entries out of its JSON files.
Large inputs are tiled according to the config's ``model.test_cfg`` (``tile``, ``tile_overlap``). Networks with
an ``optimize_for_inference()`` method (ESPCN) run in that faster, equal form on CPU, made on the first prediction,
once the checkpoint is loaded.
"""
from __future__ import annotations

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from convzoo.core.registry import MODELS
from convzoo.tasks.restoration.metrics import to_uint8_hwc


class RestorationTask:
    """Models of type ``RestorationModel`` in convzoo's scope: image in, restored (upscaled) image out."""

    priority = 10

    image_ext = '.png'  # lossless: the output is an image, not an annotation drawn over one

    @classmethod
    def matches(cls, cfg: Config) -> bool:
        return cfg.get('default_scope') == 'convzoo' and cfg.model.get('type') == 'RestorationModel'

    def __init__(self, cfg: Config, **_):
        init_default_scope('convzoo')
        self.cfg = cfg
        self.scale = 1

    def build_model(self) -> torch.nn.Module:
        model = MODELS.build(self.cfg.model)
        self.scale = model.scale
        return model

    def set_meta(self, checkpoint_meta: dict | None) -> None:
        pass

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the output for an input of ``size``."""
        return size[0] * self.scale, size[1] * self.scale

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
            sample = model.predict(data['inputs'], data['data_samples'], with_baseline=False)[0]
            out = to_uint8_hwc(sample.pred_img)[..., ::-1]
            results.append(dict(input_size=list(image.shape[1::-1]), output_size=list(out.shape[1::-1]),
                                scale=self.scale, _image=np.ascontiguousarray(out)))
        return results

    def draw(self, image: np.ndarray, result: dict) -> np.ndarray:
        return result['_image']


ADAPTER = RestorationTask
