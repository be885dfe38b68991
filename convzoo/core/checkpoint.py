"""Loading model weights with one clear error when a file does not fit the model, and saving them atomically."""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping

import torch
from mmengine.logging import print_log
from torch import nn

from convzoo.core.errors import CheckpointError
from convzoo.core.safe_load import load_checkpoint_file


def state_dict_of(checkpoint, filename: str) -> dict:
    """The weights inside a checkpoint (mmengine's ``state_dict`` entry or a bare state dict)."""
    sd = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, Mapping) else None
    if not isinstance(sd, Mapping) or not any(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(f'{filename}: holds no state dict of tensors (top-level keys: '
                              f'{list(checkpoint)[:8] if isinstance(checkpoint, Mapping) else type(checkpoint)})')
    return {re.sub(r'^module\.', '', k): v for k, v in sd.items()}


def _examples(keys, n: int = 3) -> str:
    keys = list(keys)
    more = f' and {len(keys) - n} more' if len(keys) > n else ''
    return ', '.join(keys[:n]) + more


def load_weights_into(model: nn.Module, checkpoint, filename: str, strict: bool = True) -> None:
    """Copy a checkpoint's weights into ``model``.

    ``strict``: every model key present with its shape and no foreign key (testing, inference). Otherwise
    (fine-tuning) weights whose shapes differ are skipped with a warning. Either way a file of which no weight
    belongs to the model is refused, naming the file.
    """
    sd = state_dict_of(checkpoint, filename)
    model_sd = model.state_dict()
    mismatched = {k: (tuple(v.shape), tuple(model_sd[k].shape)) for k, v in sd.items()
                  if k in model_sd and isinstance(v, torch.Tensor) and v.shape != model_sd[k].shape}
    if mismatched and strict:
        k, (got, want) = next(iter(mismatched.items()))
        raise CheckpointError(f'{filename}: made for another model: {len(mismatched)} weights have other shapes, '
                              f'e.g. {k} is {got} in the file but {want} in the model')
    for k in mismatched:
        print_log(f'{filename}: skipping {k}: shape {mismatched[k][0]} != model {mismatched[k][1]}',
                  logger='current', level=30)
        sd.pop(k)
    try:
        result = model.load_state_dict(sd, strict=False)
    except RuntimeError as err:  # shapes that only differ after key renaming hooks
        raise CheckpointError(f'{filename}: does not fit this model: {str(err).splitlines()[-1].strip()}') from None
    missing, unexpected = result.missing_keys, result.unexpected_keys
    if len(missing) == len(model_sd):
        raise CheckpointError(f'{filename}: none of its {len(sd)} weights belong to this '
                              f'{type(model).__name__} (it has e.g. {_examples(unexpected)}); '
                              'it was made for another model')
    if strict and (missing or unexpected):
        parts = [f'{len(missing)} model weights missing ({_examples(missing)})' if missing else '',
                 f'{len(unexpected)} unknown weights ({_examples(unexpected)})' if unexpected else '']
        raise CheckpointError(f'{filename}: made for another model: ' + '; '.join(p for p in parts if p))
    if missing or unexpected:
        print_log(f'{filename}: loaded non-strictly; missing {_examples(missing)}; unexpected '
                  f'{_examples(unexpected)}', logger='current', level=30)


def load_model_weights(model: nn.Module, filename: str, strict: bool = True, map_location='cpu'):
    """Read ``filename`` safely (weights only) and load it into ``model``; returns the checkpoint dict."""
    checkpoint = load_checkpoint_file(filename, map_location)
    load_weights_into(model, checkpoint, filename, strict)
    return checkpoint


def save_checkpoint_atomic(checkpoint, filename: str) -> None:
    """``torch.save`` to a temporary file beside ``filename``, flushed to disk, then renamed: a reader (or a
    crash) never sees a half-written checkpoint under the final name."""
    folder = os.path.dirname(os.path.abspath(filename))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(filename)}.', suffix='.part', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filename)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
