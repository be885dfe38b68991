"""Training/evaluation hooks of the restoration task: side-by-side visualisation and MIRNet's mixup schedule."""
from __future__ import annotations

import os
import os.path as osp

import cv2
import numpy as np
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from convzoo.core.registry import HOOKS
from convzoo.restorers.restoration_model import to_unit_range
from convzoo.tasks.restoration.metrics import to_uint8_hwc


def side_by_side(lq, pred, gt=None, scale: int = 1) -> np.ndarray:
    """RGB uint8 panel: LQ (nearest-upscaled to the output size) | output | GT, separated by white bars."""
    lq = to_unit_range(lq)[None]
    if scale > 1:
        lq = F.interpolate(lq, scale_factor=scale, mode='nearest')
    panels = [to_uint8_hwc(lq[0]), to_uint8_hwc(pred)] + ([to_uint8_hwc(gt)] if gt is not None else [])
    height = min(p.shape[0] for p in panels)
    width = min(p.shape[1] for p in panels)
    bar = np.full((height, 4, 3), 255, np.uint8)
    row = []
    for p in panels:
        row += [p[:height, :width], bar]
    return np.concatenate(row[:-1], axis=1)


@HOOKS.register_module()
class RestorationVisHook(Hook):
    """Write ``LQ | output | GT`` PNGs of the first ``max_images`` validation/test images per evaluation into
    ``<work_dir>/vis/<epoch or iter>/`` (test: ``<work_dir>/vis/test``)."""

    priority = 'LOW'

    def __init__(self, max_images: int = 4, interval: int = 1):
        self.max_images, self.interval = max_images, interval
        self._written = 0
        self._evaluations = 0

    def _folder(self, runner, tag: str) -> str:
        return osp.join(runner.work_dir, 'vis', tag)

    def before_val_epoch(self, runner) -> None:
        self._written = 0
        self._evaluations += 1

    def before_test_epoch(self, runner) -> None:
        self._written = 0

    def _write(self, runner, data_batch, outputs, tag: str) -> None:
        scale = int(getattr(runner.model.module if is_model_wrapper(runner.model) else runner.model, 'scale', 1))
        for lq, sample in zip(data_batch['inputs'], outputs):
            if self._written >= self.max_images:
                return
            panel = side_by_side(lq, sample.pred_img, sample.get('gt_img'), scale)
            folder = self._folder(runner, tag)
            os.makedirs(folder, exist_ok=True)
            name = sample.metainfo.get('name', f'{self._written:04d}')
            cv2.imwrite(osp.join(folder, f'{name}.png'), panel[..., ::-1])
            self._written += 1

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self._evaluations % self.interval == 0:
            self._write(runner, data_batch, outputs, f'iter_{runner.iter}')

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._write(runner, data_batch, outputs, 'test')


@HOOKS.register_module()
class RestorationMixupHook(Hook):
    """Turn on mixup of training pairs (``mixup_alpha`` of the data preprocessor) from ``start_epoch`` on."""

    def __init__(self, start_epoch: int = 5, alpha: float = 1.2):
        self.start_epoch, self.alpha = start_epoch, alpha

    def before_train_epoch(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.data_preprocessor.mixup_alpha = self.alpha if runner.epoch >= self.start_epoch else None
