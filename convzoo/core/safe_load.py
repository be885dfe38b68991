"""Every weight load is weights-only, whatever the path: a local file, ``http(s)://``, ``openmmlab://``,
``mmcls://``, ``s3://``/``petrel://`` or a file already in torch's hub cache.

``torch.load`` runs with ``weights_only=True`` and convzoo's allow-list of data classes
(:func:`checkpoint_safe_globals`); a file whose pickle needs anything else is refused by name. mmengine's own URL
loaders end in ``torch.hub.load_state_dict_from_url``, which unpickles everything (weights-only off): a file placed
in the hub cache would run code. :func:`install_loaders` replaces every scheme of mmengine's ``CheckpointLoader``
(used by ``init_cfg=dict(type='Pretrained', ...)``, ``load_from`` and ``--resume``) with these loaders.

mmengine's log buffers (``HistoryBuffer`` in a checkpoint's ``message_hub``) are rebuilt from plain data. A plain
mmengine run pickles each buffer's statistics functions as ``getattr(HistoryBuffer, 'mean')`` (protocol 2 reaches
a method through ``builtins.getattr``); torch's unpickler resolves ``builtins.getattr`` to
:func:`_log_buffer_attribute`, which answers only those four (class, name) pairs, with a token, and refuses any
other. The class name resolves to :class:`_LogBufferRecipe`, which checks the buffer's data (numbers, lengths) and
only then becomes a ``HistoryBuffer``, never touching the class's shared table of statistics; a token found
anywhere but inside a buffer refuses the file.
"""
from __future__ import annotations

import io
import os
import os.path as osp
import pickle
import re
from urllib.parse import urlparse

import numpy as np
import torch

from convzoo.core.errors import CheckpointError

HISTORY_BUFFER = 'mmengine.logging.history_buffer.HistoryBuffer'
# HistoryBuffer's built-in statistics: what mmengine pickles (by reference) in every buffer's state
LOG_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')
MMENGINE_BUFFER_KEYS = {'_log_history', '_count_history', 'max_length', 'statistics_methods'}  # its pickled __dict__


class _StatisticName:
    """What ``getattr(HistoryBuffer, name)`` unpickles to: the name of a built-in statistic, not the function."""

    def __init__(self, name: str):
        self.name = name


def _refuse(message: str) -> pickle.UnpicklingError:
    return pickle.UnpicklingError(f'convzoo: {message}')  # the prefix lets _refusal quote it through torch's wrapper


def _numbers(values, what: str) -> np.ndarray:
    array = np.asarray(values) if isinstance(values, (np.ndarray, list, tuple)) else None
    if array is None or array.ndim != 1 or array.dtype.kind not in 'biuf':
        raise _refuse(f'a log buffer whose {what} is not a list of numbers')
    return array


class _LogBufferRecipe:
    """Stands for mmengine's ``HistoryBuffer`` while a checkpoint is unpickled.

    convzoo's pickles call it with plain data (``HistoryBuffer(log_history, count_history, max_length)``); mmengine's
    create it empty and set its ``__dict__`` (two arrays, an int and the statistics table). Either way the data is
    checked and the object that comes out is a ``HistoryBuffer``."""

    def __new__(cls, *args):
        if not args:  # mmengine's pickles: an empty object, then __setstate__
            return super().__new__(cls)
        if len(args) != 3:
            raise _refuse(f'a log buffer built from {len(args)} values instead of (log, counts, max_length)')
        buffer = super().__new__(cls)
        buffer.__setstate__({'_log_history': args[0], '_count_history': args[1], 'max_length': args[2]})
        return buffer

    def __setstate__(self, state) -> None:
        from mmengine.logging.history_buffer import HistoryBuffer
        keys = set(state) if isinstance(state, dict) else set()
        if not {'_log_history', '_count_history', 'max_length'} <= keys <= MMENGINE_BUFFER_KEYS:
            shown = sorted(map(str, keys))[:6] if isinstance(state, dict) else type(state).__name__
            raise _refuse(f'a log buffer whose state is not mmengine\'s ({shown})')
        log, counts = _numbers(state['_log_history'], 'log'), _numbers(state['_count_history'], 'counts')
        if len(log) != len(counts) or type(state['max_length']) is not int or state['max_length'] < 1:
            raise _refuse('a log buffer whose log, counts and max_length do not fit together')
        methods = state.get('statistics_methods', {})
        if not isinstance(methods, dict) or not all(
                isinstance(v, _StatisticName) and v.name == k for k, v in methods.items()):
            raise _refuse('a log buffer whose statistics are not the built-in min/max/current/mean')
        self.__dict__.update(_log_history=log.copy(), _count_history=counts.copy(), max_length=state['max_length'])
        self.__class__ = HistoryBuffer  # a plain HistoryBuffer from here on
        self._set_default_statistics()  # what HistoryBuffer() does: the class's table gets its built-ins, no more


def _log_buffer_attribute(owner, name):
    """``builtins.getattr`` while a checkpoint is unpickled: only (HistoryBuffer, built-in statistic)."""
    if owner is _LogBufferRecipe and name in LOG_BUFFER_STATISTICS:
        return _StatisticName(name)
    shown = 'HistoryBuffer' if owner is _LogBufferRecipe else getattr(owner, '__qualname__', type(owner).__name__)
    raise _refuse(f'getattr({shown}, {name!r}), which is not an attribute mmengine\'s log buffers are pickled with')


def checkpoint_safe_globals() -> list:
    """The globals convzoo checkpoints may contain besides torch's own: data classes, mmengine's log buffers (as
    :class:`_LogBufferRecipe`) and the checked ``getattr`` they need; numpy arrays and scalars also under numpy
    1's module names (checkpoints written before numpy 2)."""
    dtype_classes = [type(np.dtype(t)) for t in
                     ('float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool')]
    multiarray = np._core.multiarray
    return [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar, *dtype_classes,
            (multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
            (multiarray.scalar, 'numpy.core.multiarray.scalar'),
            (_LogBufferRecipe, HISTORY_BUFFER), (_log_buffer_attribute, 'builtins.getattr')]


def _allowed_names() -> set[str]:
    # torch's own data globals besides torch.*, and getattr as protocol 2 writes it
    names = {'_codecs.encode', 'collections.Counter', '__builtin__.getattr', '__builtin__.set',
             '__builtin__.bytearray', '__builtin__.complex', 'builtins.set', 'builtins.bytearray', 'builtins.complex'}
    for entry in checkpoint_safe_globals():
        names.add(entry[1] if isinstance(entry, tuple) else f'{entry.__module__}.{entry.__qualname__}')
    return names


def _stray_statistic(obj) -> bool:
    """Whether a statistic token or an unfinished log buffer is left anywhere in a loaded object (a getattr pickled
    outside a log buffer); walks containers without recursion, each once."""
    pending, seen = [obj], set()
    while pending:
        node = pending.pop()
        if isinstance(node, (_StatisticName, _LogBufferRecipe)):
            return True
        if id(node) in seen or not isinstance(node, (dict, list, tuple, set, frozenset)):
            continue
        seen.add(id(node))
        pending.extend(list(node.keys()) + list(node.values()) if isinstance(node, dict) else node)
    return False


def pickled_globals(source) -> list[str]:
    """The ``module.name`` globals a pickle (a raw pickle, or the ``data.pkl`` of torch's zip format) refers to, in
    order, read with :mod:`pickletools` without unpickling anything."""
    import pickletools
    import zipfile
    try:
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as archive:
                member = next(n for n in archive.namelist() if n.endswith('data.pkl'))
                data = archive.read(member)
        else:
            with open(source, 'rb') as f:
                data = f.read()
    except (OSError, StopIteration, TypeError):
        return []
    found, strings = [], []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name in ('GLOBAL', 'INST'):
                found.append(arg.replace(' ', '.'))
            elif opcode.name == 'STACK_GLOBAL' and len(strings) >= 2:
                found.append(f'{strings[-2]}.{strings[-1]}')
            elif isinstance(arg, str):
                strings.append(arg)
    except Exception:  # noqa: BLE001  (a truncated pickle: what was read so far)
        pass
    return found


def _offending_global(source) -> str | None:
    """The first global of a pickle that convzoo's loader does not allow (the payload of a malicious file)."""
    allowed = _allowed_names()
    for name in pickled_globals(source):
        if name not in allowed and not name.startswith(('torch.', 'collections.OrderedDict', 'numpy.')):
            return name
    return None


def _refusal(name: str, err: pickle.UnpicklingError, source=None) -> CheckpointError:
    payload = _offending_global(source) if isinstance(source, (str, os.PathLike)) else None
    found = re.search(r'(?:GLOBAL|function|global) ([\w.]+)', str(err))
    checked = re.search(r'convzoo: ([^\n]+)', str(err))  # a log buffer or getattr refused by convzoo's own check
    what = (checked.group(1) if checked else f'the global {payload}' if payload
            else f'the global {found.group(1)}' if found else 'an object that is not plain data')
    return CheckpointError(
        f'{name}: refused to load: the file contains {what}, which could run code when unpickled. '
        'convzoo loads checkpoints with weights_only=True and allows only tensors and plain data. '
        'If you trust the file, re-save its state dict (torch.save(obj["state_dict"], path)) and load that.')


def safe_torch_load(source, name: str, map_location=None):
    """``torch.load`` of a path or a binary file object, weights-only with the allow-list; errors name ``name``."""
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            loaded = torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise _refusal(name, err, source) from None
    except Exception as err:  # noqa: BLE001  (truncated files, text files, foreign formats)
        raise CheckpointError(f'{name}: not a readable PyTorch checkpoint ({type(err).__name__}: {err})') from None
    if _stray_statistic(loaded):
        raise _refusal(name, _refuse("getattr(HistoryBuffer, ...) outside a log buffer, where mmengine never "
                                     'writes it'))
    return loaded


def load_checkpoint_file(filename: str, map_location=None):
    """A local checkpoint, weights-only; a missing file is a ``FileNotFoundError`` naming it."""
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file {filename} does not exist')
    return safe_torch_load(filename, filename, map_location)


def hub_cache_path(url: str) -> str:
    """Where torch's hub keeps the file of ``url`` (the same place ``load_state_dict_from_url`` uses)."""
    return osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(urlparse(url).path))


def load_from_url(url: str, map_location=None):
    """A checkpoint behind a URL: the hub cache's copy, else downloaded there (torch writes it under a temporary
    name and renames it when complete), then read weights-only."""
    cached = hub_cache_path(url)
    if not osp.isfile(cached):
        os.makedirs(osp.dirname(cached), exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, cached, progress=True)
        except Exception as err:  # noqa: BLE001  (no network, 404, ...)
            raise CheckpointError(f'{url}: cannot be downloaded ({type(err).__name__}: {err}); put the file at '
                                  f'{cached} or point the config at a local copy') from None
    return safe_torch_load(cached, f'{url} (cached as {cached})', map_location)


def load_from_openmmlab(filename: str, map_location=None):
    """``openmmlab://name`` / ``open-mmlab://name``: mmengine's model-zoo table gives the URL (or a file in
    mmengine's home), which is then loaded like any other."""
    from mmengine.runner.checkpoint import _get_mmengine_home, get_deprecated_model_names, get_external_models
    name = filename.split('://', 1)[1]
    name = get_deprecated_model_names().get(name, name)
    urls = get_external_models()
    if name not in urls:
        raise CheckpointError(f'{filename}: not in mmengine\'s model-zoo table')
    target = urls[name]
    if target.startswith(('http://', 'https://')):
        return load_from_url(target, map_location)
    return load_checkpoint_file(osp.join(_get_mmengine_home(), target), map_location)


def load_from_mmcls(filename: str, map_location=None):
    """``mmcls://name``: mmcls's model-zoo URL, loaded weights-only, keys as mmengine's own loader leaves them."""
    from mmengine.runner.checkpoint import _process_mmcls_checkpoint, get_mmcls_models
    urls = get_mmcls_models()
    name = filename[len('mmcls://'):]
    if name not in urls:
        raise CheckpointError(f'{filename}: not in mmcls\'s model-zoo table')
    return _process_mmcls_checkpoint(load_from_url(urls[name], map_location))


def load_from_object_storage(filename: str, map_location=None):
    """``s3://`` / ``petrel://`` through mmengine's file backend, read weights-only from memory."""
    from mmengine.fileio import get_file_backend
    backend = get_file_backend(filename, backend_args={'backend': 'petrel'})
    with io.BytesIO(backend.get(filename)) as buffer:
        return safe_torch_load(buffer, filename, map_location)


def refuse_torchvision(filename, map_location=None):
    raise CheckpointError(
        f'{filename}: torchvision:// weights cannot be loaded here: torchvision does not work with the CPU torch '
        'build, so convzoo never imports it. Download the weights file once elsewhere and point the config at it, '
        "e.g. init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50-0676ba61.pth') "
        '(torchvision ResNet files load into mmdet ResNets as they are), or train from scratch with init_cfg=None.')


def refuse_pavi(filename, map_location=None):
    raise CheckpointError(f'{filename}: pavi:// checkpoints are not supported by convzoo; download the file and '
                          'point the config at the local copy')


LOADERS = {  # mmengine scheme prefixes (regular expressions, as mmengine registers them) -> convzoo loader
    '': load_checkpoint_file,
    ('http://', 'https://'): load_from_url,
    ('open-mmlab://', 'openmmlab://'): load_from_openmmlab,
    'mmcls://': load_from_mmcls,
    (r'(\S+\:)?s3://', r'(\S+\:)?petrel://'): load_from_object_storage,
    ('modelzoo://', 'torchvision://'): refuse_torchvision,
    'pavi://': refuse_pavi,
}


def install_loaders() -> None:
    """Put convzoo's loaders behind every scheme of mmengine's ``CheckpointLoader``."""
    from mmengine.runner.checkpoint import CheckpointLoader
    for prefixes, loader in LOADERS.items():
        CheckpointLoader.register_scheme(prefixes=prefixes, loader=loader, force=True)
    unsafe = [p for p, fn in CheckpointLoader._schemes.items() if fn.__module__ != __name__]
    if unsafe:  # a scheme added by a newer mmengine: refuse rather than load with its own (unsafe) loader
        for prefix in unsafe:
            CheckpointLoader.register_scheme(prefixes=prefix, loader=_refuse_unknown, force=True)


def _refuse_unknown(filename, map_location=None):
    raise CheckpointError(f'{filename}: convzoo has no weights-only loader for this scheme; use a local file')
