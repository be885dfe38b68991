"""Checkpoints of the official RCNet code (TempleX98/RCNet: mmdetection 2.10, neck ``RCFPN``) for convzoo's
:class:`~convzoo.necks.rcnet.RCNet`.

    python -m convzoo.converters.rcnet retinanet_r50_rcfpn_1x_coco_epoch_12.pth OUT.pth [--sha256 HEX]
    convzoo convert rcnet SRC DST [--sha256 HEX] [--config CONFIG] [--prefix neck.]

The authors released no weights (their README: "Pretrained models will be available"), so SRC is a checkpoint
trained with their code: a whole detector (``neck.*`` beside ``backbone.*`` and ``bbox_head.*``; mmdet 3.x kept
mmdet 2.x's names for ResNet, RetinaNet, ATSS and GFL) or a bare neck state dict. Only the neck's names change::

    official RCFPN                                  convzoo RCNet
    lateral_convs.{i}.*                             laterals.{i}.*
    extra_downsamples.{i}.0.*  (conv, then pool)    extra_levels.{i}.*
    RevFP.p{3..7}.*  (a ModuleDict filled p7 first) rev_fp.{0..4}.*  (p3 .. p7, matched by name, not order)
        weight.0.* / weight.1.*                         gate.conv.* / lower_gate.conv.*
        spatial_weight.* / temp                         attention.conv.* / attention.temperature
        pre_fusion.* / post_fusion.*                    the same (mmcv's DCNv2 keys: conv.weight, conv.conv_offset.*)
    CSN.msm.aggregation.{i}.*                       csn.scale_shift.level_mixers.{i}.*
    CSN.{spatial,scale}Context.channel_agg.*        csn.{spatial,scale}_context.attention.*
    CSN.{spatial,scale}Context.trans.*              csn.{spatial,scale}_context.transform.*

No tensor changes (same shapes, same computation). Every neck key must be one of these; the renamed neck is then
loaded strictly into an RCNet built from the file's own shapes (channels, BN/GN/no norm, DCNv2 or plain convs),
and with ``--config`` the whole converted file is loaded strictly into that config's model. The class names of an
mmdet 2.x checkpoint (``meta.CLASSES``) become ``meta.dataset_meta.classes`` for the Inferencer.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from convzoo.converters.common import converter_parser, read_source, run_as_script, source_meta, write_checkpoint
from convzoo.core.checkpoint import load_weights_into, state_dict_of
from convzoo.core.errors import ConversionError
from convzoo.necks.rcnet import RCNet  # registers RCNet for --config too

NECK_PREFIX = 'neck.'
OFFICIAL_ROOTS = ('lateral_convs.', 'extra_downsamples.', 'RevFP.', 'CSN.')
NODE_RENAMES = (  # inside one RevFP node: official sub-module -> convzoo sub-module
    (r'weight\.0\.', 'gate.conv.'),
    (r'weight\.1\.', 'lower_gate.conv.'),
    (r'spatial_weight\.', 'attention.conv.'),
    (r'temp$', 'attention.temperature'),
    (r'(pre_fusion|post_fusion)\.', r'\1.'),
)
CONTEXT_RENAMES = {'channel_agg': 'attention', 'trans': 'transform'}


def _node_key(level: str, rest: str) -> str | None:
    for pattern, replacement in NODE_RENAMES:
        renamed, count = re.subn('^' + pattern, replacement, rest)
        if count:
            return f'rev_fp.{int(level) - 3}.{renamed}'
    return None


def _context_key(branch: str, module: str, rest: str) -> str:
    return f'csn.{branch}_context.{CONTEXT_RENAMES[module]}.{rest}'


KEY_RULES = (  # (official key pattern, convzoo key from the match groups); None: no place for the key
    (re.compile(r'lateral_convs\.(\d+)\.(.+)'), lambda m: f'laterals.{m[1]}.{m[2]}'),
    (re.compile(r'extra_downsamples\.(\d+)\.0\.(.+)'), lambda m: f'extra_levels.{m[1]}.{m[2]}'),
    (re.compile(r'RevFP\.p([3-7])\.(.+)'), lambda m: _node_key(m[1], m[2])),
    (re.compile(r'CSN\.msm\.aggregation\.(\d+)\.(.+)'), lambda m: f'csn.scale_shift.level_mixers.{m[1]}.{m[2]}'),
    (re.compile(r'CSN\.(spatial|scale)Context\.(channel_agg|trans)\.(.+)'), lambda m: _context_key(m[1], m[2], m[3])),
)


def convert_neck_key(key: str) -> str | None:
    """The convzoo RCNet name of an official RCFPN key (relative to the neck), or None when it has no place."""
    for pattern, rename in KEY_RULES:
        found = pattern.fullmatch(key)
        if found:
            return rename(found)
    return None


def convert_neck_state_dict(official: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An official RCFPN state dict (keys relative to the neck) in convzoo's names; a key with no place in RCNet
    is a :class:`ConversionError` listing every such key (nothing is guessed or dropped)."""
    converted, unplaced = {}, []
    for key, value in official.items():
        new_key = convert_neck_key(key)
        if new_key is None:
            unplaced.append(key)
        else:
            converted[new_key] = value
    if unplaced:
        raise ConversionError(f'{len(unplaced)} neck key(s) are not RCFPN weights: {", ".join(unplaced[:5])}'
                              f'{" ..." if len(unplaced) > 5 else ""}')
    return converted


def _norm_of(neck: Mapping[str, torch.Tensor]) -> dict | None:
    if any(k.startswith('laterals.0.bn.') for k in neck):
        return dict(type='BN')
    if any(k.startswith('laterals.0.gn.') for k in neck):
        return dict(type='GN', num_groups=1)  # the group count changes no key or shape
    return None


def rcnet_like(neck: Mapping[str, torch.Tensor]):
    """An RCNet with the channels, norm and fusion convs that the converted neck state dict ``neck`` implies."""
    laterals = [neck.get(f'laterals.{i}.conv.weight') for i in range(3)]
    if any(w is None for w in laterals):
        raise ConversionError('the neck lacks lateral_convs.{0,1,2}.conv.weight: not a 3-level RCFPN')
    offset = neck.get('rev_fp.0.post_fusion.conv.conv_offset.weight')
    out_conv = dict(type='Conv2d') if offset is None else dict(type='DCNv2', deform_groups=offset.shape[0] // 27)
    return RCNet(in_channels=[w.shape[1] for w in laterals], out_channels=laterals[0].shape[0], start_level=0,
                 norm_cfg=_norm_of(neck), out_conv_cfg=out_conv, dcn_impl='torch')


def check_loads_strictly(neck: Mapping[str, torch.Tensor]) -> None:
    """Load ``neck`` strictly into :func:`rcnet_like`; what does not fit is a :class:`ConversionError` saying what."""
    model = rcnet_like(neck)
    wanted = {k: v.shape for k, v in model.state_dict().items()}
    problems = {'missing': [k for k in wanted if k not in neck],
                'unexpected': [k for k in neck if k not in wanted],
                'with other shapes': [k for k, v in neck.items() if k in wanted and wanted[k] != v.shape]}
    listed = [f'{len(keys)} {what} ({", ".join(keys[:3])})' for what, keys in problems.items() if keys]
    if listed:
        raise ConversionError('the converted neck does not load strictly into RCNet: ' + '; '.join(listed))
    model.load_state_dict(neck, strict=True)


def convert_checkpoint(checkpoint, filename: str) -> tuple[dict[str, torch.Tensor], int]:
    """``(state dict in convzoo's names, number of neck tensors)`` of an official detector or neck checkpoint."""
    state = state_dict_of(checkpoint, filename)
    if any(k.startswith(NECK_PREFIX) for k in state):
        neck = {k[len(NECK_PREFIX):]: v for k, v in state.items() if k.startswith(NECK_PREFIX)}
        others = {k: v for k, v in state.items() if not k.startswith(NECK_PREFIX)}
        prefix = NECK_PREFIX
    elif all(k.startswith(OFFICIAL_ROOTS) for k in state):
        neck, others, prefix = state, {}, ''
    else:
        raise ConversionError(f'{filename}: no RCFPN weights: neither neck.* keys nor a bare RCFPN state dict '
                              f'(keys such as {", ".join(list(state)[:3])})')
    try:
        converted = convert_neck_state_dict(neck)
        check_loads_strictly(converted)
    except ConversionError as err:
        raise ConversionError(f'{filename}: {err}') from None
    return {**others, **{prefix + k: v for k, v in converted.items()}}, len(converted)


def dataset_meta_of(checkpoint) -> dict | None:
    """mmdet 2.x keeps the class names in ``meta.CLASSES``; mmdet 3.x in ``meta.dataset_meta.classes``."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    if not isinstance(meta, Mapping):
        return None
    if isinstance(meta.get('dataset_meta'), Mapping):
        return dict(meta['dataset_meta'])
    return dict(classes=tuple(meta['CLASSES'])) if meta.get('CLASSES') else None


def check_against_config(checkpoint: dict, config: str, filename: str) -> None:
    """Load the converted checkpoint strictly into the model of ``config`` (one clear error if it does not fit)."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    from convzoo.core.config import load_config
    init_default_scope('mmdet')
    load_weights_into(MODELS.build(load_config(config).model), checkpoint, filename, strict=True)
    print(f'loads strictly into the model of {config}')


def main(argv=None, prog=None) -> None:
    parser = converter_parser(__doc__, prog)
    parser.add_argument('--config', help="also load the result strictly into this config's model")
    parser.add_argument('--prefix', default='', help="key prefix to add, e.g. 'neck.' for a bare neck file")
    args = parser.parse_args(argv)
    official, digest = read_source(args.src, args.sha256)
    converted, neck_count = convert_checkpoint(official, args.src)
    checkpoint = dict(state_dict={args.prefix + k: v for k, v in converted.items()},
                      meta=source_meta(args.src, 'rcnet', digest))
    classes = dataset_meta_of(official)
    if classes:
        checkpoint['meta']['dataset_meta'] = classes
    print(f'renamed {neck_count} neck tensors (strict load into RCNet: ok); {len(converted) - neck_count} other '
          'tensors kept as they are')
    if args.config:
        check_against_config(checkpoint, args.config, f'{args.src} (converted)')
    write_checkpoint(checkpoint, args.dst)


if __name__ == '__main__':
    run_as_script(main)
