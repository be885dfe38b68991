"""mmengine Runner with convzoo's checkpoint rules: safe loading and a clear error for a foreign checkpoint."""
from __future__ import annotations

from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from convzoo.utils.checkpoint import load_weights_into
from convzoo.utils.compat import load_checkpoint_file


class ConvzooRunner(Runner):
    """``strict_load``: when True (testing) a checkpoint must fit the model exactly."""

    strict_load: bool = False

    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool | None = None, revise_keys=None):
        checkpoint = load_checkpoint_file(filename, map_location if isinstance(map_location, str) else 'cpu')
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        load_weights_into(model, checkpoint, filename, self.strict_load if strict is None else strict)
        self._has_loaded = True
        self.logger.info(f'Loaded checkpoint {filename}')
        return checkpoint
