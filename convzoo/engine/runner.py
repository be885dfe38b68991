"""mmengine Runner with convzoo's checkpoint rules: safe loading and a clear error for a foreign checkpoint.

Registered in mmengine's ``RUNNERS``: configs say ``runner_type = 'ConvzooRunner'``, so mmdet's and mmseg's own
``tools/train.py``/``test.py`` (which build ``RUNNERS.build(cfg)`` when a config names a runner type) use it too.
"""
from __future__ import annotations

from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from convzoo.core.checkpoint import load_weights_into
from convzoo.core.compat import load_checkpoint_file


@RUNNERS.register_module()
class ConvzooRunner(Runner):
    """``strict_load``: when True a checkpoint must fit the model exactly; ``test()`` turns it on (evaluating
    weights that only partly fit would report a meaningless score)."""

    strict_load: bool = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.logger.info(f'{type(self).__name__}: checkpoints load weights-only; testing loads them strictly')

    def test(self) -> dict:
        self.strict_load = True
        return super().test()

    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool | None = None, revise_keys=None):
        checkpoint = load_checkpoint_file(filename, map_location if isinstance(map_location, str) else 'cpu')
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        load_weights_into(model, checkpoint, filename, self.strict_load if strict is None else strict)
        self._has_loaded = True
        self.logger.info(f'Loaded checkpoint {filename}')
        return checkpoint
