"""Restoration losses: pixel L1 / MSE / Charbonnier, and DEA-Net's contrastive regularisation (AECR-Net's CR).

CR pulls the output's VGG19 features towards the clear image's and pushes them away from the hazy input's:
``sum_l w_l * L1(phi_l(out), phi_l(gt)) / (L1(phi_l(out), phi_l(hazy)) + 1e-7)`` over relu1_1 ... relu5_1 with
w = [1/32, 1/16, 1/8, 1/4, 1]. It needs ImageNet VGG19 weights; torchvision cannot be imported on this stack and
nothing is downloaded, so VGG19 is built here with torchvision's key names (``features.{i}.weight``) and loads a
local file; without one it fails with the fix in the message.
"""
from __future__ import annotations

import os.path as osp

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from convzoo.core.config import ConfigError
from convzoo.core.registry import MODELS


class _PixelLoss(BaseModule):

    def __init__(self, loss_weight: float = 1.0, init_cfg=None):
        super().__init__(init_cfg)
        self.loss_weight = loss_weight

    def pointwise(self, pred, target):
        raise NotImplementedError

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * self.pointwise(pred, target).mean()


@MODELS.register_module()
class PixelL1Loss(_PixelLoss):
    def pointwise(self, pred, target):
        return (pred - target).abs()


@MODELS.register_module()
class PixelMSELoss(_PixelLoss):
    def pointwise(self, pred, target):
        return (pred - target) ** 2


@MODELS.register_module()
class CharbonnierLoss(_PixelLoss):
    """``mean(sqrt((x - y)^2 + eps^2))`` (MIRNet: eps = 1e-3)."""

    def __init__(self, loss_weight: float = 1.0, eps: float = 1e-3, init_cfg=None):
        super().__init__(loss_weight, init_cfg)
        self.eps = eps

    def pointwise(self, pred, target):
        return torch.sqrt((pred - target) ** 2 + self.eps ** 2)


# torchvision's VGG19 ``features`` up to relu5_1 (index 29): channel widths, 'M' = 2x2 max-pool.
VGG19_LAYOUT = (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512)
CR_SLICE_ENDS = (2, 7, 12, 21, 30)  # features[0:2] -> relu1_1, [2:7] -> relu2_1, ... [21:30] -> relu5_1
CR_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


def vgg19_features() -> nn.Sequential:
    layers, channels = [], 3
    for item in VGG19_LAYOUT:
        if item == 'M':
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU(inplace=True)]
            channels = item
    return nn.Sequential(*layers)


def load_vgg19_weights(features: nn.Sequential, path: str | None) -> None:
    """Load ``features.*`` tensors of a torchvision-layout VGG19 file into ``features`` (classifier ignored)."""
    if not path:
        raise ConfigError('ContrastRegularization needs ImageNet VGG19 weights: set vgg_weights to a local '
                          'torchvision-layout file (e.g. checkpoints/vgg19-dcbb9e9d.pth, downloaded once '
                          'elsewhere), or train without CR by setting its loss weight to 0 / removing it')
    if not osp.isfile(path):
        raise ConfigError(f'ContrastRegularization: vgg_weights file {path} does not exist')
    from convzoo.core.checkpoint import state_dict_of
    from convzoo.core.safe_load import load_checkpoint_file
    state = state_dict_of(load_checkpoint_file(path, 'cpu'), path)
    wanted = {k: v for k, v in state.items() if k.startswith('features.')}
    own = {f'features.{k}': v for k, v in features.state_dict().items()}
    missing = sorted(set(own) - set(wanted))
    if missing:
        raise ConfigError(f'{path}: not a torchvision-layout VGG19 file: {len(missing)} feature weights missing '
                          f'(e.g. {missing[0]})')
    features.load_state_dict({k[len('features.'):]: wanted[k] for k in own})


@MODELS.register_module()
class ContrastRegularization(BaseModule):
    """Contrastive regularisation (DEA-Net / AECR-Net); VGG19 is frozen and fed unnormalised [0, 1] inputs.

    The weights are read by ``init_weights()`` (the runner calls it before training) or at the first forward, so
    a config naming a file that is not there still builds (for inspection, export, testing) and fails with the
    fix in the message as soon as training starts.
    """

    def __init__(self, vgg_weights: str | None = None, loss_weight: float = 0.1, init_cfg=None):
        super().__init__(init_cfg)
        self.loss_weight, self.vgg_weights = loss_weight, vgg_weights
        # Held outside the module tree: the frozen ImageNet weights are not the model's and stay out of its
        # checkpoints (they would add 80 MB to every file).
        self._vgg = [vgg19_features().requires_grad_(False).eval()]
        self._loaded = False

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        self._vgg[0]._apply(fn, *args, **kwargs)
        return self

    def init_weights(self) -> None:
        load_vgg19_weights(self._vgg[0], self.vgg_weights)
        self._loaded = True

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, start = [], 0
        for end in CR_SLICE_ENDS:
            x = self._vgg[0][start:end](x)
            out.append(x)
            start = end
        return out

    def forward(self, pred: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        if not self._loaded:
            self.init_weights()
        loss = pred.new_zeros(())
        for w, p, pos, neg in zip(CR_WEIGHTS, self.features(pred), self.features(positive.detach()),
                                  self.features(negative.detach())):
            loss = loss + w * F.l1_loss(p, pos.detach()) / (F.l1_loss(p, neg.detach()) + 1e-7)
        return self.loss_weight * loss
