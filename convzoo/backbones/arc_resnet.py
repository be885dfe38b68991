"""ARC-ResNet (Pu et al., "Adaptive Rotated Convolution for Rotated Object Detection", ICCV 2023).

mmdet's ResNet with the 3x3 convolution of chosen residual blocks replaced by an
:class:`~convzoo.layers.adaptive_rotated_conv.AdaptiveRotatedConv2d` (n kernels, rotated and gated per image).
The paper's backbone ("RxFFF_n4") leaves stage 1 as it is and converts every bottleneck of stages 2-4, n = 4.
In a Bottleneck the converted conv is ``conv2``; in a BasicBlock (ResNet-18/34, not in the paper) it is ``conv1``,
the 3x3 conv that carries the block's stride and dilation. Output shapes are those of the plain ResNet.
"""
from __future__ import annotations

if __name__ == '__main__':
    # `python -m convzoo.backbones.arc_resnet SRC DST` (the weight conversion's first documented name): the package
    # import has already registered this module's classes, so running its body again as `__main__` would register
    # them twice. Hand over to the converter before that; by name, as a backbone must not import a converter.
    import runpy
    runpy.run_module('convzoo.converters.arc_resnet', run_name='__main__', alter_sys=True)
    raise SystemExit(0)

from collections.abc import Sequence  # noqa: E402

from mmdet.models.backbones.resnet import BasicBlock, Bottleneck, ResNet  # noqa: E402
from mmdet.registry import MODELS  # noqa: E402
from torch import nn  # noqa: E402

from convzoo.layers.adaptive_rotated_conv import AdaptiveRotatedConv2d  # noqa: E402

# the conv is usable on its own in mmdet configs (e.g. conv_cfg=dict(type='AdaptiveRotatedConv2d'))
MODELS.register_module(module=AdaptiveRotatedConv2d)


def _block_selection(arc_blocks, stage: int, num_blocks: int) -> list[int]:
    """Block indices of one stage from ``arc_blocks`` (per-stage lists: ``['x']`` none, ``['0', '2']`` or ints)."""
    chosen = arc_blocks[stage]
    if chosen in (None, 'x') or list(chosen) == ['x']:
        return []
    if chosen == 'all':
        return list(range(num_blocks))
    indices = [int(i) for i in chosen]
    bad = [i for i in indices if not 0 <= i < num_blocks]
    if bad:
        raise ValueError(f'arc_blocks[{stage}] = {chosen!r}: stage {stage + 1} has blocks 0..{num_blocks - 1}')
    return indices


@MODELS.register_module()
class ARCResNet(ResNet):
    """ResNet whose selected blocks use adaptive rotated convolution.

    Args:
        arc_stages: per stage, convert every block of that stage (default: stages 2-4, the paper's).
        arc_blocks: per stage, the block indices to convert (overrides ``arc_stages``), e.g.
            ``[['x'], ['0', '1', '2', '3'], 'all', []]``.
        kernel_number: kernels per ARC conv (n).
        routing_cfg: extra arguments of the routing function (dropout_rate, proportion).
        legacy_init: reproduce the reference ``init_weights``, which also kaiming-inits the routing functions'
            depthwise convs (overriding their truncated-normal init). Irrelevant when loading pretrained weights.
        per_sample_loop: convolve sample by sample instead of one grouped conv over the batch.
    """

    def __init__(self, depth: int, arc_stages: Sequence[bool] = (False, True, True, True),
                 arc_blocks: Sequence | None = None, kernel_number: int = 4, routing_cfg: dict | None = None,
                 legacy_init: bool = False, per_sample_loop: bool = False, **kwargs):
        super().__init__(depth, **kwargs)
        if arc_blocks is None:
            if len(arc_stages) != self.num_stages:
                raise ValueError(f'arc_stages has {len(arc_stages)} entries, the ResNet has {self.num_stages} stages')
            arc_blocks = ['all' if on else ['x'] for on in arc_stages]
        elif len(arc_blocks) != self.num_stages:
            raise ValueError(f'arc_blocks has {len(arc_blocks)} entries, the ResNet has {self.num_stages} stages')
        self.kernel_number, self.legacy_init = kernel_number, legacy_init
        for stage, layer_name in enumerate(self.res_layers):
            blocks = getattr(self, layer_name)
            chosen = _block_selection(arc_blocks, stage, len(blocks))
            if chosen and self.dcn is not None and self.stage_with_dcn[stage]:
                raise ValueError(f'stage {stage + 1} is set to use both DCN and ARC; choose one')
            for index in chosen:
                self._convert_block(blocks[index], kernel_number, routing_cfg, per_sample_loop)
        self._freeze_stages()  # the new convs of frozen stages must be frozen too

    @staticmethod
    def _convert_block(block: nn.Module, kernel_number: int, routing_cfg, per_sample_loop: bool) -> None:
        name = 'conv2' if isinstance(block, Bottleneck) else 'conv1'
        if not isinstance(block, (Bottleneck, BasicBlock)):
            raise TypeError(f'ARCResNet converts Bottleneck/BasicBlock, got {type(block).__name__}')
        conv: nn.Conv2d = getattr(block, name)
        setattr(block, name, AdaptiveRotatedConv2d(
            conv.in_channels, conv.out_channels, 3, stride=conv.stride[0], padding=conv.padding[0],
            dilation=conv.dilation[0], groups=conv.groups, kernel_number=kernel_number, routing_cfg=routing_cfg,
            per_sample_loop=per_sample_loop))

    def arc_convs(self) -> list[AdaptiveRotatedConv2d]:
        return [m for m in self.modules() if isinstance(m, AdaptiveRotatedConv2d)]

    def init_weights(self) -> None:
        # ResNet's default init_cfg kaiming-inits every nn.Conv2d, the routers' depthwise convs included; unless
        # the legacy behaviour is asked for, give the routers back their own init (not after loading weights).
        super().init_weights()
        pretrained = any(isinstance(c, dict) and c.get('type') == 'Pretrained'
                         for c in (self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]))
        if not pretrained and not self.legacy_init:
            for conv in self.arc_convs():
                conv.routing_func.reset_parameters()
