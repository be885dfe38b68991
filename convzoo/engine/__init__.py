"""Training and testing engine: ``ConvzooRunner`` (registered in mmengine's ``RUNNERS``; configs select it with
``runner_type='ConvzooRunner'``, so mmdet's and mmseg's own train/test scripts use it too)."""
from convzoo.engine.runner import ConvzooRunner

__all__ = ['ConvzooRunner']
