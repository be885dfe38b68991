"""The restoration model: a network (``generator``) with its data preprocessor, losses, colour handling and tiled
inference, on mmengine's ``BaseModel`` (modes 'tensor', 'loss', 'predict').

* Value range: the preprocessor turns 8-bit, 16-bit or float inputs into float [0, 1] and batches images of
  different sizes by reflect-padding bottom/right; predictions are cropped back to each input's size x scale.
* Size multiples: networks that need H, W divisible by k (``generator.input_multiple``: MIRNet, DEA-Net 4) get
  their input reflect-padded to a multiple of k and the output cropped back, at any size.
* ``channel_mode='y'`` (ESPCN): the network sees the BT.601 Y channel; Cb/Cr are upsampled bicubically; the loss
  is on Y, the prediction is RGB.
* Tiled inference (``test_cfg=dict(tile=T, tile_overlap=O)``): inputs larger than T are run in overlapping
  T x T tiles whose outputs are blended with weights that are zero within ``O // 4`` pixels of an inner tile
  edge and ramp linearly to 1 across the overlap, so there are no seams, and the result equals the untiled one
  whenever the network's receptive radius is at most ``O // 4``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement

from convzoo.core.registry import MODELS
from convzoo.layers.colour import rgb_to_ycbcr, ycbcr_to_rgb

VALUE_RANGES = {torch.uint8: 255.0, torch.uint16: 65535.0, torch.int32: 65535.0}


def to_unit_range(img: torch.Tensor) -> torch.Tensor:
    scale = VALUE_RANGES.get(img.dtype)
    return img.float() / scale if scale else img.float()


def pad_bottom_right(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Reflect-pad (replicate where the image is too small to reflect) to at least height x width."""
    ph, pw = height - x.shape[-2], width - x.shape[-1]
    if ph <= 0 and pw <= 0:
        return x
    mode = 'reflect' if ph < x.shape[-2] and pw < x.shape[-1] else 'replicate'
    return F.pad(x, (0, max(pw, 0), 0, max(ph, 0)), mode=mode)


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


@MODELS.register_module()
class RestorationDataPreprocessor(BaseDataPreprocessor):
    """Inputs to float [0, 1], batched by padding to the largest size (rounded up to ``pad_size_divisor``).

    Records each input's ``lq_shape`` in its data sample. ``mixup_alpha`` (set by ``RestorationMixupHook``):
    in training, mix every (LQ, GT) pair with a shuffled pair of the batch, lambda ~ Beta(alpha, alpha) per sample.
    """

    def __init__(self, pad_size_divisor: int = 1, mixup_alpha: float | None = None, non_blocking: bool = False):
        super().__init__(non_blocking)
        self.pad_size_divisor, self.mixup_alpha = pad_size_divisor, mixup_alpha

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        inputs = [to_unit_range(t) for t in (inputs if isinstance(inputs, (list, tuple)) else inputs.unbind(0))]
        samples = data.get('data_samples') or [BaseDataElement() for _ in inputs]
        height = round_up(max(t.shape[-2] for t in inputs), self.pad_size_divisor)
        width = round_up(max(t.shape[-1] for t in inputs), self.pad_size_divisor)
        for t, sample in zip(inputs, samples):
            sample.set_metainfo(dict(lq_shape=tuple(t.shape[-2:])))
            if 'gt_img' in sample:
                sample.gt_img = to_unit_range(sample.gt_img)
        batch = torch.stack([pad_bottom_right(t, height, width) for t in inputs])
        if training and self.mixup_alpha:
            batch = self._mixup(batch, samples)
        return dict(inputs=batch, data_samples=samples)

    def _mixup(self, batch: torch.Tensor, samples: list) -> torch.Tensor:
        gts = torch.stack([s.gt_img for s in samples])
        lam = torch.distributions.Beta(self.mixup_alpha, self.mixup_alpha).sample((len(batch), 1, 1, 1))
        perm = torch.randperm(len(batch))
        lam = lam.to(batch)
        mixed_gt = lam * gts + (1 - lam) * gts[perm]
        for sample, gt in zip(samples, mixed_gt):
            sample.gt_img = gt
        return lam * batch + (1 - lam) * batch[perm]


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    return starts + [length - tile]


def blend_ramp(size: int, inner_before: bool, inner_after: bool, overlap: int, margin: int,
               device: torch.device | str | None = None) -> torch.Tensor:
    """1-D blending weights of a tile: 0 within ``margin`` of an inner edge, rising linearly over the overlap."""
    pos = torch.arange(size, dtype=torch.float32, device=device) + 0.5
    weight = torch.ones(size, device=device)
    span = max(overlap - 2 * margin, 1)
    if inner_before:
        weight = torch.minimum(weight, ((pos - margin) / span).clamp(0, 1))
    if inner_after:
        weight = torch.minimum(weight, ((size - pos - margin) / span).clamp(0, 1))
    return weight


@MODELS.register_module()
class RestorationModel(BaseModel):
    """Image restoration / super-resolution model around a tensor-in/tensor-out ``generator``.

    Args:
        generator: the network config (ESPCN, MIRNet, DEANet, ...). Its ``scale`` attribute (default 1) is the
            output/input size ratio, its ``input_multiple`` (default 1) the size multiple it needs.
        pixel_loss: e.g. ``dict(type='PixelL1Loss')``, ``'PixelMSELoss'``, ``'CharbonnierLoss'``.
        contrast_loss: optional ``ContrastRegularization`` (output vs GT vs input; same-size tasks only).
        channel_mode: 'rgb' or 'y' (network on BT.601 Y, chroma bicubic).
        clamp_before_loss: clamp the output to [0, 1] before the loss (MIRNet's recipe).
        test_cfg: ``tile`` / ``tile_overlap`` for tiled inference (LQ pixels); ``with_baseline`` (default True)
            also returns the baseline (the input, bicubically upscaled for SR) for comparison metrics.
    """

    def __init__(self, generator: dict, pixel_loss: dict | None = None, contrast_loss: dict | None = None,
                 channel_mode: str = 'rgb', clamp_before_loss: bool = False, train_cfg: dict | None = None,
                 test_cfg: dict | None = None, data_preprocessor: dict | None = None, init_cfg=None):
        if channel_mode not in ('rgb', 'y'):
            raise ValueError(f"RestorationModel: channel_mode must be 'rgb' or 'y', got {channel_mode!r}")
        # Parts are convzoo modules: build them in scope convzoo whatever the caller's default scope is.
        with DefaultScope.overwrite_default_scope('convzoo'):
            super().__init__(data_preprocessor=data_preprocessor or dict(type='RestorationDataPreprocessor'),
                             init_cfg=init_cfg)
            self.generator = MODELS.build(generator)
            self.pixel_loss = MODELS.build(pixel_loss or dict(type='PixelL1Loss'))
            self.contrast_loss = MODELS.build(contrast_loss) if contrast_loss else None
        self.channel_mode, self.clamp_before_loss = channel_mode, clamp_before_loss
        self.train_cfg, self.test_cfg = train_cfg or {}, test_cfg or {}
        self.scale = int(getattr(self.generator, 'scale', 1))
        self.input_multiple = int(getattr(self.generator, 'input_multiple', 1))
        expected = 1 if channel_mode == 'y' else 3
        in_channels = getattr(self.generator, 'in_channels', expected)
        if in_channels != expected:
            raise ValueError(f'RestorationModel: channel_mode={channel_mode!r} feeds {expected} channel(s) but the '
                             f'generator takes {in_channels}')

    # ---- the network on RGB in [0, 1] -------------------------------------------------------------------------
    def _padded_generator(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        padded = pad_bottom_right(x, round_up(h, self.input_multiple), round_up(w, self.input_multiple))
        return self.generator(padded)[..., :h * self.scale, :w * self.scale]

    def upscale_baseline(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == 1:
            return x
        return F.interpolate(x, scale_factor=self.scale, mode='bicubic', align_corners=False)

    def run_network(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(network output in its own space -- Y or RGB --, RGB output)."""
        if self.channel_mode == 'rgb':
            out = self._padded_generator(x)
            return out, out
        ycbcr = rgb_to_ycbcr(x)
        y = self._padded_generator(ycbcr[:, :1])
        chroma = self.upscale_baseline(ycbcr[:, 1:])
        return y, ycbcr_to_rgb(torch.cat([y, chroma], 1))

    def restore(self, x: torch.Tensor) -> torch.Tensor:
        """RGB output for RGB input (N, 3, h, w) in [0, 1], tiled when larger than ``test_cfg.tile``."""
        tile = self.test_cfg.get('tile')
        if tile and max(x.shape[-2:]) > tile:
            return self._restore_tiled(x, tile, self.test_cfg.get('tile_overlap', 32))
        return self.run_network(x)[1]

    def _restore_tiled(self, x: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
        n, _, h, w = x.shape
        s, margin = self.scale, overlap // 4
        out = x.new_zeros(n, 3, h * s, w * s)
        weight_sum = x.new_zeros(1, 1, h * s, w * s)
        tile_h, tile_w = min(tile, h), min(tile, w)
        for top in tile_starts(h, tile, overlap):
            for left in tile_starts(w, tile, overlap):
                piece = self.run_network(x[..., top:top + tile_h, left:left + tile_w])[1]
                wy = blend_ramp(tile_h, top > 0, top + tile_h < h, overlap, margin, x.device).repeat_interleave(s)
                wx = blend_ramp(tile_w, left > 0, left + tile_w < w, overlap, margin, x.device).repeat_interleave(s)
                weight = (wy[:, None] * wx[None, :]).to(x)
                rows, cols = slice(top * s, (top + tile_h) * s), slice(left * s, (left + tile_w) * s)
                out[..., rows, cols] += piece * weight
                weight_sum[..., rows, cols] += weight
        return out / weight_sum

    # ---- mmengine modes ------------------------------------------------------------------------------------------
    def forward(self, inputs: torch.Tensor, data_samples: list | None = None, mode: str = 'tensor'):
        if mode == 'tensor':
            return self.restore(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f"RestorationModel: unknown mode {mode!r} (use 'tensor', 'loss' or 'predict')")

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        pred, rgb = self.run_network(inputs)
        gt = torch.stack([s.gt_img for s in data_samples]).to(inputs)
        target = rgb_to_ycbcr(gt)[:, :1] if self.channel_mode == 'y' else gt
        if self.clamp_before_loss:
            pred, rgb = pred.clamp(0, 1), rgb.clamp(0, 1)
        losses = dict(loss_pix=self.pixel_loss(pred, target))
        if self.contrast_loss is not None:
            losses['loss_cr'] = self.contrast_loss(rgb, gt, inputs)
        return losses

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: list | None = None,
                with_baseline: bool | None = None) -> list:
        out = self.restore(inputs).clamp(0, 1)
        if with_baseline is None:
            with_baseline = self.test_cfg.get('with_baseline', True)
        baseline = self.upscale_baseline(inputs).clamp(0, 1) if with_baseline else None
        samples = data_samples or [BaseDataElement() for _ in range(len(inputs))]
        for i, sample in enumerate(samples):
            h, w = sample.metainfo.get('lq_shape', inputs.shape[-2:])
            sample.pred_img = out[i, :, :h * self.scale, :w * self.scale].cpu()
            if baseline is not None:
                sample.baseline_img = baseline[i, :, :h * self.scale, :w * self.scale].cpu()
        return samples
