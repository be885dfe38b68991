"""ONNX export of detectors with an anchor head (RetinaNet with SEPC or RCNet necks, SSD, Rotated RetinaNet with
ARC) and of mmseg encoder-decoder segmentors (DeepLab v2 ASPP): the network -- backbone, neck and head -- up to the
head's raw outputs, at one fixed input size, with everything the post-processing needs in the file's metadata.

Graph: input ``input`` (1, 3, H, W), the image already normalised and padded (bottom/right) to H x W; outputs
``cls_score_<l>`` and ``bbox_pred_<l>`` per pyramid level l (detectors) or ``seg_logits`` (segmentors).
H x W comes from the config's test pipeline (its ``Resize`` scale, landscape, rounded up to the preprocessor's
pad divisor) unless given.

Metadata (JSON under the ``convzoo`` key of the ONNX file's metadata_props, read by
:mod:`convzoo.deploy.onnx_runtime`): ``task`` (detection / segmentation), ``classes``, ``palette``, ``input``
(name, shape, mean, std, bgr_to_rgb, pad_value), ``outputs`` (names in order), and for detectors ``head``
(anchor_generator and bbox_coder configs, box_dim, use_sigmoid_cls, cls_out_channels, test_cfg: score_thr,
nms_pre, nms iou_threshold, min_bbox_size, max_per_img), for segmentors ``segmentation`` (align_corners,
threshold).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from torch import nn

from convzoo.core.errors import ConfigError
from convzoo.deploy.graph import DEFAULT_OPSET, export_graph, onnx_session, use_torch_deformable_convs

FORMAT_VERSION = 1


class RawOutputs(nn.Module):
    """The model's network (``model._forward``) with its outputs flattened: per-level lists become one tuple."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        out = self.model._forward(inputs)
        return out if isinstance(out, torch.Tensor) else tuple(t for level in out for t in level)


def model_task(model: nn.Module, config: str) -> str:
    """'detection' or 'segmentation'; any other model is refused, naming what is supported."""
    from mmdet.models.dense_heads import AnchorHead
    if isinstance(getattr(model, 'bbox_head', None), AnchorHead) and not hasattr(model, 'roi_head'):
        return 'detection'
    if hasattr(model, 'decode_head'):
        if (getattr(model, 'test_cfg', None) or {}).get('crf') is not None:
            raise ConfigError(f'{config}: model.test_cfg.crf: the dense CRF is not part of the ONNX export; export '
                              'the config without it (e.g. deeplabv2_aspp-l_r101_cityscapes_demo.py)')
        return 'segmentation'
    raise ConfigError(f'{config}: {type(model).__name__} cannot be exported: ONNX export covers single-stage '
                      'detectors with an anchor head (RetinaNet, SSD, Rotated RetinaNet), encoder-decoder '
                      'segmentors and restoration networks')


def _rounded_up(value: int, divisor: int) -> int:
    return int(math.ceil(value / divisor) * divisor)


def pipeline_input_size(cfg: Config, config: str) -> tuple[int, int]:
    """(H, W) the test pipeline's ``Resize`` bounds a landscape image to, padded to the preprocessor's divisor."""
    pipeline = cfg.test_dataloader.dataset.get('pipeline') or cfg.get('test_pipeline') or []
    resize = next((t for t in pipeline if str(t.get('type', '')).split('.')[-1] == 'Resize' and t.get('scale')),
                  None)
    if resize is None:
        raise ConfigError(f'{config}: test_dataloader.dataset.pipeline has no Resize with a scale to take the '
                          'ONNX input size from; give it (--input-size H W)')
    scale = resize['scale']
    width, height = (scale, scale) if isinstance(scale, int) else scale
    if resize.get('keep_ratio'):
        height, width = min(width, height), max(width, height)
    preprocessor = cfg.model.get('data_preprocessor') or {}
    divisor = preprocessor.get('pad_size_divisor') or preprocessor.get('size_divisor') or 1
    return _rounded_up(height, divisor), _rounded_up(width, divisor)


def input_description(model: nn.Module, size: tuple[int, int]) -> dict:
    """What the data preprocessor does, as plain numbers (mmengine's and mmseg's preprocessors name it
    differently)."""
    dp = model.data_preprocessor
    normalise = getattr(dp, '_enable_normalize', False)
    return dict(name='input', shape=[1, 3, *size],
                mean=dp.mean.flatten().tolist() if normalise else [0.0] * 3,
                std=dp.std.flatten().tolist() if normalise else [1.0] * 3,
                bgr_to_rgb=bool(getattr(dp, '_channel_conversion', getattr(dp, 'channel_conversion', False))),
                pad_value=float(getattr(dp, 'pad_value', getattr(dp, 'pad_val', 0))))


def _plain(value):
    return value.to_dict() if isinstance(value, ConfigDict) else value


def head_description(model: nn.Module, cfg: Config, config: str) -> dict:
    head, head_cfg = model.bbox_head, cfg.model.bbox_head
    missing = [key for key in ('anchor_generator', 'bbox_coder') if key not in head_cfg]
    if missing:
        raise ConfigError(f'{config}: model.bbox_head.{missing[0]} must be written in the config for the ONNX '
                          'metadata (the post-processing rebuilds it)')
    test_cfg = _plain(head.test_cfg)
    if not (test_cfg or {}).get('nms'):
        raise ConfigError(f'{config}: model.test_cfg.nms is not set; the ONNX post-processing needs it')
    return dict(anchor_generator=_plain(head_cfg.anchor_generator), bbox_coder=_plain(head_cfg.bbox_coder),
                box_dim=head.bbox_coder.encode_size, use_sigmoid_cls=bool(head.use_sigmoid_cls),
                cls_out_channels=head.cls_out_channels, test_cfg=test_cfg)


def describe(model: nn.Module, cfg: Config, config: str, task: str, size: tuple[int, int], classes,
             palette=None) -> dict:
    """The metadata of the module doc."""
    meta = dict(format=FORMAT_VERSION, task=task, classes=list(classes),
                palette=[list(colour) for colour in palette or ()], input=input_description(model, size))
    if task == 'detection':
        levels = model.bbox_head.prior_generator.num_levels
        meta['outputs'] = [f'{kind}_{level}' for kind in ('cls_score', 'bbox_pred') for level in range(levels)]
        meta['head'] = head_description(model, cfg, config)
    else:
        meta['outputs'] = ['seg_logits']
        meta['segmentation'] = dict(align_corners=bool(model.align_corners),
                                    threshold=float(getattr(model.decode_head, 'threshold', None) or 0.3))
    return meta


def export_model(model: nn.Module, cfg: Config, path: str, classes, config: str = 'config',
                 input_size: tuple[int, int] | None = None, opset: int = DEFAULT_OPSET, palette=None) -> dict:
    """Export ``model`` (built from ``cfg``, weights loaded) to ``path``; its metadata. ``classes`` (and the
    RGB ``palette``) are stored for the results' class names."""
    task = model_task(model, config)
    size = tuple(input_size) if input_size else pipeline_input_size(cfg, config)
    use_torch_deformable_convs(model)
    meta = describe(model.eval(), cfg, config, task, size, classes, palette)
    network = RawOutputs(model).eval()
    export_graph(network, sample_input(meta), path, meta['outputs'], metadata=meta, opset=opset)
    return meta


def sample_input(meta: dict, seed: int = 0) -> torch.Tensor:
    """A random normalised image of the file's input shape."""
    return torch.randn(*meta['input']['shape'], generator=torch.Generator().manual_seed(seed))


def max_difference(model: nn.Module, path: str, meta: dict) -> float:
    """Largest |difference| between PyTorch's and onnxruntime's raw outputs on one random input."""
    x = sample_input(meta, seed=1)
    with torch.no_grad():
        expected = RawOutputs(model).eval()(x)
    expected = [expected] if isinstance(expected, torch.Tensor) else expected
    got = onnx_session(path).run(None, {'input': x.numpy()})
    return max(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected))
