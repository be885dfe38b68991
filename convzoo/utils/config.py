"""Loading configs and checking them before anything is built, so that a wrong path fails at once by name."""
from __future__ import annotations

import os.path as osp
import re
from pathlib import Path
from typing import Any, Iterator

from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported for tools/)

from convzoo.tasks.embedded import DEFAULT_ROOT, embedded_names, ensure_embedded

LOADERS = {'train': ('train_dataloader', 'val_dataloader'), 'test': ('test_dataloader',)}
DEEP_CHECK_LIMIT = 64 << 20  # annotation files above this size are left to the dataset's own parser


class ConfigError(ValueError):
    """A config that cannot run as written; the message names the config key and the fix."""


def load_config(path: str, cfg_options: dict | None = None) -> Config:
    if not osp.isfile(path):
        raise ConfigError(f'config file {path} does not exist')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def walk(node: Any, key: str = '') -> Iterator[tuple[str, Any]]:
    """Every (dotted key, value) in a nested config of dicts and lists."""
    yield key, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f'{key}.{k}' if key else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from walk(v, f'{key}[{i}]')


def demo_config_for(cfg_path: str) -> str | None:
    """``configs/x.py`` -> ``configs/demo/x_demo.py`` when such a demo config exists."""
    path = Path(cfg_path)
    candidate = path.parent / 'demo' / f'{path.stem}_demo.py'
    return str(candidate) if candidate.is_file() else None


def _datasets(node: dict, key: str) -> Iterator[tuple[str, dict]]:
    """Leaf dataset dicts inside wrappers (RepeatDataset, ConcatDataset, ...)."""
    inner = [(f'{key}.dataset', node['dataset'])] if isinstance(node.get('dataset'), dict) else []
    inner += [(f'{key}.datasets[{i}]', d) for i, d in enumerate(node.get('datasets') or []) if isinstance(d, dict)]
    if not inner:
        yield key, node
    for k, d in inner:
        yield from _datasets(d, k)


def _embedded_name(data_root: str) -> str | None:
    parts = Path(data_root).parts
    base = DEFAULT_ROOT.parts
    if len(parts) == len(base) + 1 and parts[:len(base)] == base and parts[-1] in embedded_names():
        return parts[-1]
    return None


def _check_dataset(cfg_path: str, key: str, ds: dict) -> None:
    data_root = ds.get('data_root') or ''
    if data_root and _embedded_name(data_root):  # generated when missing, regenerated when of an older version
        ensure_embedded(_embedded_name(data_root), data_root)
    if data_root and not osp.isdir(data_root):
        demo = demo_config_for(cfg_path)
        hint = (f'or run the CPU demo on embedded data: python tools/train.py {demo}' if demo else
                'or use one of the demo configs in configs/demo/, which train on embedded data')
        raise ConfigError(f'{cfg_path}: {key}.data_root = {data_root!r} does not exist. Put the dataset there '
                          f'(layouts in README.md) {hint}.')
    ann = ds.get('ann_file')
    if isinstance(ann, str) and ann:
        ann_path = ann if osp.isabs(ann) or not data_root else osp.join(data_root, ann)
        if not osp.exists(ann_path):  # a file, or a folder of label files (DOTA's labelTxt)
            raise ConfigError(f'{cfg_path}: {key}.ann_file: annotation file {ann_path} does not exist')
        if 'coco' in str(ds.get('type', '')).lower() and osp.getsize(ann_path) <= DEEP_CHECK_LIMIT:
            from convzoo.tasks.detection.coco_check import validate_coco_file
            prefix = ds.get('data_prefix', {}).get('img', '') if isinstance(ds.get('data_prefix'), dict) else ''
            validate_coco_file(ann_path, osp.join(data_root, prefix))


def preflight(cfg: Config, cfg_path: str, mode: str = 'train') -> None:
    """Fail before building anything if the config names weights or data that are not there."""
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
                _check_dataset(cfg_path, key, ds)
