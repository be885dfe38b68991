"""mmengine Runner with convzoo's checkpoint rules: weights-only loading from any path or URL, a clear error for a
foreign checkpoint, crash-safe saving, resuming from the newest readable checkpoint, and one run per work dir.

Registered in mmengine's ``RUNNERS``: configs say ``runner_type = 'ConvzooRunner'``, so mmdet's and mmseg's own
``tools/train.py``/``test.py`` (which build ``RUNNERS.build(cfg)`` when a config names a runner type) use it too.
"""
from __future__ import annotations

import os.path as osp
from contextlib import contextmanager

from mmengine.dist import is_main_process, master_only
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from convzoo.core.checkpoint import load_weights_into
from convzoo.core.errors import CheckpointError
from convzoo.engine.checkpoint_files import ConvzooCheckpointHook, newest_readable_checkpoint, replace_atomically
from convzoo.engine.work_dir_lock import WorkDirLock

TRAINING_STATE = ('meta', 'state_dict', 'message_hub')


def _is_checkpoint_hook(hook) -> bool:
    kind = hook.get('type') if isinstance(hook, dict) else None
    return kind is CheckpointHook or (isinstance(kind, str) and kind.split('.')[-1] == 'CheckpointHook')


@RUNNERS.register_module()
class ConvzooRunner(Runner):
    """``strict_load``: when True a checkpoint must fit the model exactly; ``test()`` and resuming turn it on
    (evaluating or continuing from weights that only partly fit would be meaningless)."""

    strict_load: bool = False
    _resuming: bool = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.logger.info(f'{type(self).__name__}: checkpoints load weights-only; testing loads them strictly')

    def register_hook(self, hook, priority=None) -> None:
        if _is_checkpoint_hook(hook):  # same options, crash-safe saving
            hook = dict(hook, type=ConvzooCheckpointHook)
        super().register_hook(hook, priority)

    @contextmanager
    def _work_dir_held(self):
        if not is_main_process():
            yield
            return
        with WorkDirLock(self.work_dir, self.logger.warning):
            yield

    def train(self):
        with self._work_dir_held():
            return super().train()

    def test(self) -> dict:
        self.strict_load = True
        with self._work_dir_held():
            return super().test()

    def load_or_resume(self) -> None:
        if self._resume and self._load_from is None and not self._has_loaded:
            found = newest_readable_checkpoint(self.work_dir, log=self.logger.warning)
            if found is None:
                self.logger.warning(f'resume: no readable checkpoint in {self.work_dir}; training from the start')
                self._resume = False
            else:
                self.logger.info(f'resume: from {found}')
                self._load_from = found
        super().load_or_resume()

    def resume(self, filename: str, *args, **kwargs) -> None:
        self._resuming = True
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False

    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool | None = None, revise_keys=None):
        location = map_location if isinstance(map_location, str) else 'cpu'
        checkpoint = CheckpointLoader.load_checkpoint(filename, location)  # convzoo's weights-only loaders
        if self._resuming:
            self._check_training_state(checkpoint, filename)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        strict = self.strict_load or self._resuming if strict is None else strict
        load_weights_into(model, checkpoint, filename, strict)
        self._has_loaded = True
        self.logger.info(f'Loaded checkpoint {filename}')
        return checkpoint

    @staticmethod
    def _check_training_state(checkpoint, filename: str) -> None:
        missing = [k for k in TRAINING_STATE if not isinstance(checkpoint, dict) or k not in checkpoint]
        if not missing and not {'epoch', 'iter'} <= set(checkpoint['meta'] or {}):
            missing = ['meta.epoch/iter']
        if missing:
            raise CheckpointError(f'{filename}: cannot resume from it: it holds no training state '
                                  f'({", ".join(missing)} missing); to start from its weights use '
                                  f'--cfg-options load_from={filename}')

    @master_only  # as mmengine's: other ranks must not touch the file (they would rename an empty one onto it)
    def save_checkpoint(self, out_dir: str, filename: str, *args, **kwargs) -> None:
        if '://' in str(out_dir):  # remote storage: its backend's own semantics
            return super().save_checkpoint(out_dir, filename, *args, **kwargs)
        final = osp.join(out_dir, filename)
        replace_atomically(lambda tmp: super(ConvzooRunner, self).save_checkpoint(
            osp.dirname(tmp), osp.basename(tmp), *args, **kwargs), final)
