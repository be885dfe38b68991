"""Convert the official MIRNet and DEA-Net checkpoints into convzoo checkpoints.

Both networks keep the reference's module names, so conversion is: unwrap the file (``state_dict`` / ``model`` /
bare dict; a ``module.`` prefix from DataParallel is stripped), check the reference's weight-sharing aliases,
fold DEA-Net's five DEConv branches into one conv when a deploy checkpoint is asked for, place every tensor in
the target network by name and shape, report what could not be placed, and prefix ``generator.`` for
``RestorationModel``.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from convzoo.core.errors import ConversionError
from convzoo.layers.dea_conv import fold_deconv_state

PREFIX = 'generator.'
DECONV_BRANCH = re.compile(r'^(.*\.conv1)\.(conv1_[1-5](?:\.conv)?\.(?:weight|bias))$')



@dataclass
class Conversion:
    state_dict: dict[str, torch.Tensor]
    unplaced: list[str] = field(default_factory=list)  # source keys with no place in the target network
    missing: list[str] = field(default_factory=list)  # target keys the source did not provide
    notes: list[str] = field(default_factory=list)

    def checkpoint(self, meta: dict) -> dict:
        return {'state_dict': {PREFIX + k: v for k, v in self.state_dict.items()}, 'meta': meta}


def unwrap(checkpoint) -> dict[str, torch.Tensor]:
    for key in ('state_dict', 'model', 'params', 'net'):
        if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get(key), Mapping):
            checkpoint = checkpoint[key]
            break
    if not isinstance(checkpoint, Mapping) or not any(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise ConversionError('the file holds no state dict of tensors')
    return {re.sub(r'^(module\.)+', '', k): v for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}


def place(source: dict[str, torch.Tensor], target: nn.Module) -> Conversion:
    """Match tensors by name and shape; everything else is reported, never guessed."""
    wanted = target.state_dict()
    placed, unplaced = {}, []
    for key, value in source.items():
        if key in wanted and wanted[key].shape == value.shape:
            placed[key] = value
        else:
            shape = f' (shape {tuple(value.shape)} vs {tuple(wanted[key].shape)})' if key in wanted else ''
            unplaced.append(key + shape)
    return Conversion(placed, unplaced, [k for k in wanted if k not in placed])


def _alias_groups_mirnet(keys) -> dict[str, list[str]]:
    """Keys that the reference's weight sharing stores twice or more: DAU columns and the DAU bodies' PReLU."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        column = re.match(r'^(.*\.blocks\.\d+)\.\d+\.(.*)$', key)
        if column:
            groups.setdefault(f'{column.group(1)}.*.{column.group(2)}', []).append(key)
        if re.search(r'\.blocks\.\d+\.\d+\.body\.1\.weight$', key):
            groups.setdefault('DAU body PReLU', []).append(key)
    return groups


def _aliases_equal(source: dict, group: list[str]) -> bool:
    first = source[group[0]]
    return all(torch.equal(source[k], first) for k in group[1:])


def convert_mirnet(checkpoint, target: nn.Module) -> Conversion:
    """Official MIRNet checkpoint -> weights of ``target`` (a MIRNet); checks the sharing aliases agree."""
    source = unwrap(checkpoint)
    shares_dau = target.body[0].body[0].blocks[0][0] is target.body[0].body[0].blocks[0][-1]
    shares_prelu = target.body[0].body[0].blocks[0][0].body[1] is target.body[-1].body[0].blocks[-1][0].body[1]
    notes = []
    for name, group in _alias_groups_mirnet(source).items():
        if len(group) < 2 or _aliases_equal(source, group):
            continue
        is_prelu = name == 'DAU body PReLU'
        if (is_prelu and shares_prelu) or (not is_prelu and shares_dau):
            option = 'share_prelu' if is_prelu else 'share_dau_weights'
            raise ConversionError(f'{name}: the checkpoint holds different tensors under names the reference shares; '
                                  f'it was trained without that sharing -- convert for MIRNet({option}=False)')
        notes.append(f'{name}: independent tensors (no weight sharing)')
    conversion = place(source, target)
    conversion.notes += notes
    return conversion


def fold_deanet_state(source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Training-layout DEA-Net tensors -> deploy layout: each DEConv's five branches become ``conv1.weight/bias``."""
    folded, branches = {}, {}
    for key, value in source.items():
        found = DECONV_BRANCH.match(key)
        if found:
            branches.setdefault(found.group(1), {})[found.group(2)] = value
        else:
            folded[key] = value
    for prefix, state in branches.items():
        try:
            folded[f'{prefix}.weight'], folded[f'{prefix}.bias'] = fold_deconv_state(state)
        except KeyError as err:
            raise ConversionError(f'{prefix}: DEConv branch tensor {err.args[0]} is missing') from None
    return folded


def deanet_layout(source: dict) -> str:
    return 'train' if any(DECONV_BRANCH.match(k) for k in source) else 'deploy'


def convert_deanet(checkpoint, target: nn.Module) -> Conversion:
    """Official DEA-Net checkpoint (training or deploy layout) -> weights of ``target`` (a DEANet).

    A training-layout file converts to either form; a deploy-layout file only to ``DEANet(deploy=True)`` (the
    merged kernel cannot be split back into its five branches).
    """
    source = unwrap(checkpoint)
    layout = deanet_layout(source)
    if layout == 'deploy' and not target.deploy:
        raise ConversionError('the checkpoint is in the deploy layout (merged DEConv kernels); convert it for '
                              'DEANet(deploy=True) (--deploy): the five branches cannot be recovered')
    if layout == 'train' and target.deploy:
        source = fold_deanet_state(source)
    conversion = place(source, target)
    conversion.notes.append(f'source layout: {layout}; target: {"deploy" if target.deploy else "train"}')
    return conversion
