"""PSNR and SSIM as restoration papers report them.

Both compare 8-bit images: the prediction (float [0, 1]) is rounded to uint8, as when it is saved. ``crop_border``
pixels are removed on every side (SR papers crop the scale). ``convert_to='y'`` evaluates the BT.601 Y channel
(16-235), the SR convention; otherwise all RGB channels. SSIM: Gaussian window 11 x 11, sigma 1.5, K1 = 0.01,
K2 = 0.03, valid region only, channel mean (Wang et al. 2004; equals scikit-image's ``structural_similarity`` with
``gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255``).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from convzoo.core.registry import METRICS
from convzoo.layers.colour import rgb_to_y_numpy


def to_uint8_hwc(img) -> np.ndarray:
    """(3, H, W) float tensor in [0, 1] (or an 8-bit H x W x C array) -> H x W x C uint8."""
    if isinstance(img, torch.Tensor):
        img = img.detach().cpu().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
    return np.asarray(img)


def prepare(img: np.ndarray, crop_border: int, convert_to: str | None) -> np.ndarray:
    """uint8 H x W x C -> float64 H x W x C' with the border cropped and the channel converted."""
    img = img.astype(np.float64)
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
    if convert_to == 'y':
        img = rgb_to_y_numpy(img)[..., None]
    return img


def psnr(pred: np.ndarray, gt: np.ndarray, crop_border: int = 0, convert_to: str | None = None) -> float:
    pred, gt = prepare(pred, crop_border, convert_to), prepare(gt, crop_border, convert_to)
    mse = np.mean((pred - gt) ** 2)
    return float('inf') if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def _ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = cv2.getGaussianKernel(11, 1.5)
    window = g @ g.T

    def filt(x):
        return cv2.filter2D(x, -1, window, borderType=cv2.BORDER_REFLECT)[5:-5, 5:-5]

    mu_a, mu_b = filt(a), filt(b)
    var_a, var_b, cov = filt(a * a) - mu_a ** 2, filt(b * b) - mu_b ** 2, filt(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def ssim(pred: np.ndarray, gt: np.ndarray, crop_border: int = 0, convert_to: str | None = None) -> float:
    pred, gt = prepare(pred, crop_border, convert_to), prepare(gt, crop_border, convert_to)
    if min(pred.shape[:2]) < 11:
        raise ValueError(f'SSIM needs images of at least 11x11 after the border crop, got {pred.shape[:2]}')
    return float(np.mean([_ssim_channel(pred[..., c], gt[..., c]) for c in range(pred.shape[2])]))


class _ImageMetric(BaseMetric):
    """Mean over images of ``fn(pred, gt)``; ``pred_key`` 'pred_img' (the model) or 'baseline_img' (the input)."""

    name = ''
    fn = None

    def __init__(self, crop_border: int = 0, convert_to: str | None = None, pred_key: str = 'pred_img',
                 collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        if convert_to not in (None, 'y', 'Y'):
            raise ValueError(f"{type(self).__name__}: convert_to must be None or 'y', got {convert_to!r}")
        self.crop_border, self.convert_to, self.pred_key = crop_border, convert_to and 'y', pred_key

    def process(self, data_batch, data_samples) -> None:
        for sample in data_samples:
            if 'gt_img' not in sample:
                raise ValueError(f'{type(self).__name__}: {sample.get("gt_path") or sample.get("name")}: '
                                 'no ground truth to compare with')
            pred, gt = to_uint8_hwc(sample[self.pred_key]), to_uint8_hwc(sample['gt_img'])
            if pred.shape != gt.shape:
                raise ValueError(f'{type(self).__name__}: {sample.get("gt_path")}: prediction {pred.shape} and '
                                 f'GT {gt.shape} differ in size')
            self.results.append(type(self).fn(pred, gt, self.crop_border, self.convert_to))

    def compute_metrics(self, results: list) -> dict:
        key = f'{self.name}_Y' if self.convert_to else self.name
        return {key: float(np.mean(results))}


@METRICS.register_module()
class PSNR(_ImageMetric):
    name = 'PSNR'
    fn = staticmethod(psnr)


@METRICS.register_module()
class SSIM(_ImageMetric):
    name = 'SSIM'
    fn = staticmethod(ssim)
