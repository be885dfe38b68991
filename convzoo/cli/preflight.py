"""Checks of a config before anything is built, so that a wrong path fails at once by name.

Missing embedded datasets are generated here (and regenerated when their builder changed), as the datasets
themselves do when an upstream tool builds them; COCO annotation files are validated with
:mod:`convzoo.tasks.detection.coco_validation`.
"""
from __future__ import annotations

import importlib
import inspect
import os.path as osp
import re
import sys
from pathlib import Path
from typing import Iterator

import torch
from mmengine.config import Config

from convzoo.core.config import resolve_config_path, walk
from convzoo.core.embedded import prepare_embedded
from convzoo.core.errors import AnnotationError, ConfigError

LOADERS = {'train': ('train_dataloader', 'val_dataloader'), 'test': ('test_dataloader',)}
DEEP_CHECK_LIMIT = 64 << 20  # annotation files above this size are left to the dataset's own parser


def _words(name: str) -> set[str]:
    return set(re.split(r'[-_.]+', name)) - {'', 'demo', 'py'}


def demo_config_for(cfg_path: str) -> str | None:
    """The CPU demo beside a paper config (``configs/<paper>/demo/*.py``) whose name shares the most words with
    the config's (``retinanet_r50_fpn-sepc_1x_coco`` -> ``sepc_retinanet_demo``), or None."""
    path = Path(resolve_config_path(cfg_path))
    demos = sorted((path.parent / 'demo').glob('*.py'))
    if not demos:
        return None
    words = _words(path.stem)
    best = max(demos, key=lambda d: len(words & _words(d.stem)) / len(words | _words(d.stem)))
    shown = Path(cfg_path).parent / 'demo' / best.name  # as the user wrote the config's folder
    return str(shown) if shown.is_file() else str(best)


def _datasets(node: dict, key: str) -> Iterator[tuple[str, dict]]:
    """Leaf dataset dicts inside wrappers (RepeatDataset, ConcatDataset, ...)."""
    inner = [(f'{key}.dataset', node['dataset'])] if isinstance(node.get('dataset'), dict) else []
    inner += [(f'{key}.datasets[{i}]', d) for i, d in enumerate(node.get('datasets') or []) if isinstance(d, dict)]
    if not inner:
        yield key, node
    for k, d in inner:
        yield from _datasets(d, k)


def _check_dataset(cfg_path: str, key: str, ds: dict, training: bool) -> None:
    data_root = ds.get('data_root') or ''
    prepare_embedded(data_root)  # generated when missing, regenerated when of an older version (as the datasets do)
    if data_root and not osp.isdir(data_root):
        demo = demo_config_for(cfg_path)
        hint = (f'or run the CPU demo on embedded data: convzoo train {demo}' if demo else
                'or use one of the demo configs in configs/<paper>/demo/, which train on embedded data')
        raise ConfigError(f'{cfg_path}: {key}.data_root = {data_root!r} does not exist. Put the dataset there '
                          f'(layouts in README.md) {hint}.')
    ann = ds.get('ann_file')
    if isinstance(ann, str) and ann:
        ann_path = ann if osp.isabs(ann) or not data_root else osp.join(data_root, ann)
        if not osp.exists(ann_path):  # a file, or a folder of label files (DOTA's labelTxt)
            raise ConfigError(f'{cfg_path}: {key}.ann_file: annotation file {ann_path} does not exist')
        if 'coco' in str(ds.get('type', '')).lower() and osp.getsize(ann_path) <= DEEP_CHECK_LIMIT:
            from convzoo.tasks.detection.coco_validation import validate_coco_file
            prefix = ds.get('data_prefix', {}).get('img', '') if isinstance(ds.get('data_prefix'), dict) else ''
            data = validate_coco_file(ann_path, osp.join(data_root, prefix))
            if not data['annotations']:
                if training:
                    raise AnnotationError(f'{ann_path}: has no annotations ("annotations": []): nothing to train on')
                print(f'warning: {ann_path} has no annotations: every COCO metric will be -1', file=sys.stderr)


def _scope_registries(scope: str) -> list:
    from mmengine.registry import Registry
    module = importlib.import_module('convzoo.core.registry' if scope == 'convzoo' else f'{scope}.registry')
    return [r for r in vars(module).values() if isinstance(r, Registry)]


def _accepted_arguments(cls) -> set[str] | None:
    """The keyword arguments ``cls(...)`` accepts: its ``__init__``'s named parameters and those of every base it
    forwards ``**kwargs`` to; None when something in the chain takes arbitrary keywords we cannot see."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != 'self'}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names
        if klass in (torch.nn.Module, object):
            return None  # nn.Module.__init__(*args, **kwargs): the chain ended in arbitrary keywords
    return None


def check_model_types(cfg: Config, cfg_path: str) -> None:
    """Every ``type`` under ``model`` names something a registry of the config's scope knows, and its other keys
    are arguments it takes: a typo stops here, by key, instead of deep inside the build."""
    registries = _scope_registries(cfg.get('default_scope') or 'mmengine')
    for key, value in walk(cfg.get('model', {}), 'model'):
        if key.endswith(('nms', 'roi_layer')):  # these name an mmcv op ('nms', 'RoIAlign'), not a registered module
            continue
        if not (isinstance(value, dict) and isinstance(value.get('type'), str)):
            continue
        found = next((r.get(value['type']) for r in registries if r.get(value['type']) is not None), None)
        if found is None:
            raise ConfigError(f'{cfg_path}: {key}.type = {value["type"]!r} is not a registered module of '
                              f'scope {cfg.get("default_scope")!r} (a typo, or a package missing from '
                              'custom_imports?)')
        # layer settings (norm_cfg, conv_cfg, init_cfg, train_cfg...) are read by builder functions with keys of
        # their own (requires_grad, layer=...): only modules are checked for unknown arguments
        in_settings = any(part.split('[')[0].endswith('_cfg') for part in key.split('.'))
        accepted = _accepted_arguments(found) if inspect.isclass(found) and not in_settings else None
        unknown = sorted(set(value) - {'type', '_delete_', '_scope_'} - (accepted or set(value)))
        if unknown:
            raise ConfigError(f'{cfg_path}: {key}.{unknown[0]}: {value["type"]} takes no argument {unknown[0]!r} '
                              f'(it takes: {", ".join(sorted(accepted))})')


def check_neck_head_channels(cfg: Config, cfg_path: str) -> None:
    """A detector head must take the channels its neck gives; checked before the build (else it fails at the
    first forward with a shape error)."""
    model = cfg.get('model') or {}
    necks = model.get('neck')
    necks = necks if isinstance(necks, list) else [necks]
    out = necks[-1].get('out_channels') if isinstance(necks[-1], dict) else None
    if not isinstance(out, int):
        return
    neck_key = 'model.neck' + (f'[{len(necks) - 1}]' if len(necks) > 1 else '')
    for head_key in ('rpn_head', 'bbox_head'):
        head = model.get(head_key)
        if isinstance(head, dict) and isinstance(head.get('in_channels'), int) and head['in_channels'] != out:
            raise ConfigError(f'{cfg_path}: model.{head_key}.in_channels = {head["in_channels"]}, but the neck '
                              f'gives {out} channels ({neck_key}.out_channels)')


def preflight(cfg: Config, cfg_path: str, mode: str = 'train') -> None:
    """Fail before building anything if the config names modules, weights or data that are not there."""
    check_model_types(cfg, cfg_path)
    check_neck_head_channels(cfg, cfg_path)
    for key, value in walk(cfg.to_dict()):
        if isinstance(value, str) and value.startswith('torchvision://'):
            raise ConfigError(
                f'{cfg_path}: {key} = {value!r}: torchvision:// weights cannot be used here (torchvision does '
                "not work with this CPU torch build). Use a local file, e.g. init_cfg=dict(type='Pretrained', "
                "checkpoint='checkpoints/resnet50-0676ba61.pth'), or init_cfg=None to train from scratch.")
        if (mode == 'train' and isinstance(value, dict) and value.get('type') == 'Pretrained'
                and isinstance(value.get('checkpoint'), str) and not re.match(r'^\w+://', value['checkpoint'])
                and not osp.isfile(value['checkpoint'])):
            raise ConfigError(
                f'{cfg_path}: {key}.checkpoint = {value["checkpoint"]!r} does not exist. Download the pretrained '
                f'weights to that path (see README.md), or train from scratch with --cfg-options {key}=None.')
    for loader in LOADERS[mode]:
        if isinstance(cfg.get(loader), dict) and isinstance(cfg[loader].get('dataset'), dict):
            for key, ds in _datasets(cfg[loader]['dataset'], f'{loader}.dataset'):
                _check_dataset(cfg_path, key, ds, training=loader == 'train_dataloader')
