"""Convert the official MIRNet and DEA-Net checkpoints into convzoo checkpoints.

    convzoo convert mirnet model_denoising.pth checkpoints/mirnet_sidd.pth [--sha256 HEX]
    convzoo convert deanet PSNR4131_SSIM9945.pth checkpoints/deanet_its_deploy.pth   # released: deployed layout
    convzoo convert deanet 300.pk checkpoints/deanet_its.pth [--deploy]             # training layout (train.py)
    python -m convzoo.converters.restoration {mirnet,deanet} SRC DST ...            # the same

Both networks keep the reference's module names, so conversion is: unwrap the file (``state_dict`` / ``model`` /
bare dict; a ``module.`` prefix from DataParallel is stripped), check the reference's weight-sharing aliases,
fold DEA-Net's five DEConv branches into one conv when a deploy checkpoint is asked for, place every tensor in
the target network by name and shape, report what could not be placed, and prefix ``generator.`` for
``RestorationModel``.

DEA-Net's layout is read from the keys: the released weights (``trained_models/{ITS,OTS,HAZE4K}/*.pth``) are the
deployed network (one merged conv per DEConv) and become a deploy checkpoint, run with ``--cfg-options
model.generator.deploy=True``; a training checkpoint (``{'model': ...}`` with the five branches) becomes the
training network, or the deploy one with ``--deploy``. The target network is the one of ``--config`` (default: the
paper config); if it would be left with weights missing, nothing is written.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from convzoo.converters.common import converter_parser, read_source, run_as_script, source_meta, write_checkpoint
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


DEPLOYED_CONV = re.compile(r'block\d+\.conv1\.(?:weight|bias)$')  # a DEConv merged into one conv (released files)


def deanet_layout(source: dict) -> str:
    """'train' (five DEConv branches per block, as the training code saves), 'deploy' (one merged conv per block,
    as the released weights are) or a :class:`ConversionError` for a file that is neither or both."""
    has_branches = any(DECONV_BRANCH.match(k) for k in source)
    has_merged = any(DEPLOYED_CONV.search(k) for k in source)
    if has_branches and has_merged:
        raise ConversionError('mixes both DEA-Net layouts (DEConv branches ...conv1.conv1_1... and merged '
                              '...block1.conv1.weight): not a checkpoint of either network')
    if not (has_branches or has_merged):
        raise ConversionError('is not a DEA-Net checkpoint: it has neither DEConv branch keys (training layout, '
                              'e.g. down_level1_block1.conv1.conv1_1.conv.weight) nor merged DEConv keys '
                              f'(deployed layout, e.g. down_level1_block1.conv1.weight); keys: {_first_keys(source)}')
    return 'train' if has_branches else 'deploy'


def _first_keys(source: dict, n: int = 3) -> str:
    return ', '.join(list(source)[:n]) + (' ...' if len(source) > n else '')


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


PAPER_CONFIGS = {'mirnet': 'configs/mirnet/mirnet_sidd.py', 'deanet': 'configs/dea_net/deanet_its.py'}
DEPLOY_OPTION = 'model.generator.deploy=True'


def build_target(model: str, config: str, deploy: bool) -> nn.Module:
    """The generator of ``config`` (DEA-Net: in its deploy form when ``deploy``), with no weights loaded."""
    from mmengine.registry import init_default_scope

    import convzoo.restorers  # noqa: F401  (registers the generators)
    from convzoo.core.config import load_config
    from convzoo.core.registry import MODELS
    init_default_scope('convzoo')
    generator = dict(load_config(config).model.generator)
    if model == 'deanet':
        generator['deploy'] = deploy
    elif deploy:
        raise ConversionError('--deploy applies to DEA-Net only')
    return MODELS.build(generator)


def deploy_form_for(model: str, checkpoint, filename: str, deploy_asked: bool) -> bool:
    """Whether to write the deploy form: asked for, or forced by a DEA-Net file in the deployed layout (the
    released weights are), whose merged kernels only the deploy network takes."""
    if model != 'deanet':
        return deploy_asked
    try:
        layout = deanet_layout(unwrap(checkpoint))
    except ConversionError as err:
        raise ConversionError(f'{filename}: {err}') from None
    print(f'{filename}: DEA-Net {"training" if layout == "train" else "deployed (re-parameterised)"} layout')
    if layout == 'deploy' and not deploy_asked:
        print('note: merged DEConv kernels cannot be split into branches again: writing the deploy form '
              f'(run it with --cfg-options {DEPLOY_OPTION})')
    return deploy_asked or layout == 'deploy'


def report(conversion: Conversion, filename: str) -> None:
    """Print the notes and unplaced keys; weights the target would lack stop the conversion."""
    for note in conversion.notes:
        print(f'note: {note}')
    print(f'placed {len(conversion.state_dict)} tensors')
    if conversion.unplaced:
        print(f'could not place {len(conversion.unplaced)} key(s) of {filename}:')
        print('\n'.join(f'  {k}' for k in conversion.unplaced))
    if conversion.missing:
        listing = ', '.join(conversion.missing[:5]) + (' ...' if len(conversion.missing) > 5 else '')
        raise ConversionError(f'{filename}: {len(conversion.missing)} weight(s) of the target network are missing '
                              f'(is --config the right network?), nothing written: {listing}')


def main(argv=None, prog=None, model: str | None = None) -> None:
    """``convzoo convert {mirnet,deanet} SRC DST [--sha256 HEX] [--config CFG] [--deploy]``"""
    parser = converter_parser(__doc__, prog, models=None if model else PAPER_CONFIGS)
    parser.add_argument('--config', help='config whose model.generator is the target (default: the paper config)')
    parser.add_argument('--deploy', action='store_true', help='DEA-Net: write the deploy form (merged DEConvs); '
                                                              'a deployed-layout source always gives it')
    args = parser.parse_args(argv)
    model = model or args.model
    official, digest = read_source(args.src, args.sha256)
    deploy = deploy_form_for(model, official, args.src, args.deploy)
    target = build_target(model, args.config or PAPER_CONFIGS[model], deploy)
    convert = convert_mirnet if model == 'mirnet' else convert_deanet
    try:
        conversion = convert(official, target)
    except ConversionError as err:
        raise ConversionError(f'{args.src}: {err}') from None
    report(conversion, args.src)
    write_checkpoint(conversion.checkpoint(source_meta(args.src, model, digest, deploy=deploy)), args.dst)
    if deploy:
        print(f'test it with: convzoo test {args.config or PAPER_CONFIGS[model]} {args.dst} --cfg-options '
              f'{DEPLOY_OPTION}')


if __name__ == '__main__':
    run_as_script(main)
