"""DeepLab v2's fully connected CRF as a test-time step of an mmseg segmentor.

Chen, Papandreou, Kokkinos, Murphy, Yuille, "DeepLab: Semantic Image Segmentation with Deep Convolutional Nets,
Atrous Convolution, and Fully Connected CRFs", TPAMI 2017 (arXiv 1606.00915).

``CRFEncoderDecoder``: mmseg's ``EncoderDecoder`` whose predictions go through the fully connected CRF when
``test_cfg.crf`` is set (``convzoo.layers.dense_crf``): mean field on the softmax of the logits upsampled to the
original image size, with the original image's colours.
"""
from __future__ import annotations

import os.path as osp

import mmcv
import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS

from convzoo.layers.dense_crf import DenseCRF


@MODELS.register_module()
class CRFEncoderDecoder(EncoderDecoder):
    """``EncoderDecoder`` with DeepLab's fully connected CRF as an optional test-time step.

    ``test_cfg=dict(mode='whole', crf=dict(iterations=10, bilateral_weight=4, ...))`` (keys of
    ``convzoo.layers.dense_crf.CRFParams``; ``crf=dict()`` takes DeepLab's defaults) refines ``pred_sem_seg``;
    ``crf=None`` or no ``crf`` key predicts like ``EncoderDecoder``. ``seg_logits`` stays the network's output.
    """

    def predict(self, inputs: torch.Tensor, data_samples=None):
        samples = super().predict(inputs, data_samples)
        crf_cfg = self.test_cfg.get('crf') if self.test_cfg else None
        if crf_cfg is None:
            return samples
        crf = DenseCRF(**crf_cfg)
        for index, sample in enumerate(samples):
            probs = sample.seg_logits.data.softmax(0)
            image = self.original_image(inputs[index], sample.metainfo if data_samples is not None else {})
            refined = crf(probs, image)
            sample.set_data({'pred_sem_seg': PixelData(data=refined.argmax(0, keepdim=True))})
        return samples

    def original_image(self, normalized: torch.Tensor, meta: dict) -> torch.Tensor:
        """The (H, W, 3) colours of one input at its original size: the image file when the sample names one,
        else the network input de-normalised, un-padded, un-flipped and resized back (the same steps
        ``postprocess_result`` applies to the logits)."""
        path = meta.get('img_path')
        if isinstance(path, str) and osp.isfile(path):
            image = mmcv.imread(path, 'color')
            if image is not None and image.shape[:2] == tuple(meta['ori_shape'][:2]):
                return torch.from_numpy(image)
        preprocessor = self.data_preprocessor
        image = normalized.detach().float()
        if getattr(preprocessor, '_enable_normalize', False):
            image = image * preprocessor.std.to(image) + preprocessor.mean.to(image)
        if meta:
            left, right, top, bottom = meta.get('img_padding_size', meta.get('padding_size', [0, 0, 0, 0]))
            image = image[:, top:image.shape[1] - bottom, left:image.shape[2] - right]
            if meta.get('flip'):
                image = image.flip(dims=(2,) if meta.get('flip_direction') == 'horizontal' else (1,))
            image = resize(image[None], size=meta['ori_shape'], mode='bilinear', align_corners=False,
                           warning=False)[0]
        return image.clamp(0, 255).permute(1, 2, 0)
