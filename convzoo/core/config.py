"""Loading configs: from a path, from the configs shipped inside the package (``convzoo::sepc/x.py``), or from a
path a config had before it moved (``configs/moved.json``).

The configs live in the repository's ``configs/<paper>/`` folders; the package reaches them as
``convzoo/.mim/configs`` (a link in a checkout, a copy in the wheel), the way mmdet ships its configs for ``mim``.
So ``configs/sepc/demo/x.py`` works from the checkout's root, and from any other folder once convzoo is installed.
"""
from __future__ import annotations

import functools
import json
import os.path as osp
import sys
from pathlib import Path
from typing import Any, Iterator

from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported for the command line)

from convzoo.core.errors import ConfigError

PACKAGE_CONFIGS = Path(__file__).resolve().parents[1] / '.mim' / 'configs'
SCHEME = 'convzoo::'


@functools.cache
def moved_configs() -> dict[str, str]:
    """Old path -> new path of every config that moved (``configs/sepc_retinanet.py`` -> ``configs/sepc/...``)."""
    table = PACKAGE_CONFIGS / 'moved.json'
    return json.loads(table.read_text()) if table.is_file() else {}


def _shipped(relative: str) -> Path:
    return PACKAGE_CONFIGS / relative


def resolve_config_path(path: str) -> str:
    """``path`` itself when it exists; else the shipped config it names (``convzoo::x.py`` or ``configs/x.py``),
    following a move recorded in ``configs/moved.json`` (with a note naming the new path)."""
    path = str(path)
    if osp.isfile(path):
        return path
    relative = path[len(SCHEME):] if path.startswith(SCHEME) else None
    if relative is None and Path(path).parts[:1] == ('configs',):
        relative = str(Path(*Path(path).parts[1:]))
    if relative is not None:
        new = moved_configs().get(f'configs/{relative}')
        if new is not None:
            print(f'note: {path} is now {new}', file=sys.stderr)
            return resolve_config_path(new)
        if _shipped(relative).is_file():
            return str(_shipped(relative))
    if osp.isdir(path) or (relative and _shipped(relative).is_dir()):
        raise ConfigError(f'{path}: is a folder, not a config file')
    raise ConfigError(f'config file {path} does not exist')


CONFIG_SUFFIXES = ('.py', '.json', '.yml', '.yaml')


def load_config(path: str, cfg_options: dict | None = None, require_model: bool = True) -> Config:
    """The config at ``path`` (see :func:`resolve_config_path`) with ``cfg_options`` merged; a file that is not a
    config (a checkpoint, an annotation file, a syntax error) is a :class:`ConfigError` naming file and line."""
    resolved = resolve_config_path(path)
    if not resolved.endswith(CONFIG_SUFFIXES):
        raise ConfigError(f'{path}: not a config file (configs end in {", ".join(CONFIG_SUFFIXES)}; is this a '
                          'checkpoint or a data file given in the config\'s place?)')
    try:
        cfg = Config.fromfile(resolved)
    except SyntaxError as err:  # mmengine parses the file as '<unknown>': name it
        raise ConfigError(f'{resolved}:{err.lineno}: syntax error: {err.msg}') from None
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as err:  # unreadable, or bases that do not merge
        raise ConfigError(f'{resolved}: cannot be read as a config ({type(err).__name__}: {err})') from None
    if require_model and 'model' not in cfg:
        raise ConfigError(f'{path}: not a model config: it defines no "model" (top-level keys: '
                          f'{", ".join(list(cfg.keys())[:6])})')
    if cfg_options:
        try:
            cfg.merge_from_dict(cfg_options)
        except (TypeError, KeyError) as err:  # e.g. a key set below a value that is None in the config
            raise ConfigError(f'{path}: --cfg-options cannot be applied: {err}') from None
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
