"""The tasks' inference adapters, found by looking, not by registration: every ``convzoo/tasks/<task>/inference.py``
defines ``ADAPTER``, a class constructed as ``Adapter(cfg, score_thr=...)`` that provides

* ``build_model()`` and ``set_meta(checkpoint_meta)`` (class names, palette);
* ``predict(model, images) -> list[dict]``: every prediction the model keeps, under mmdet's key names for the task
  (``bboxes``/``scores``/``labels``/``label_names``, ``sem_seg``, ``pred_img``), large arrays as numpy;
* ``draw(image, result) -> image``: the predictions scoring at least ``score_thr`` drawn (or the restored image);
* ``to_json(result) -> dict``: JSON-able, the predictions at or above ``score_thr``, rounded, no arrays;
* ``datasample_type`` (DetDataSample, SegDataSample, ...) and ``fill_datasample(sample, result)``: the mmengine
  data sample of a result, for ``return_datasamples``;
* optionally ``array_files = {key: suffix}``: result keys whose arrays go to ``<name><suffix>`` beside the drawn
  output (suffix None: the drawn output is that array), named in the JSON as ``<key>_file``; ``image_ext``
  (default '.jpg'); ``output_size((w, h)) -> (w, h)`` when the output image is not the input's size.

Its classmethod ``matches(cfg)`` says whether it serves a config, and its ``priority`` (default 0) ranks it: the
highest-priority adapter that matches wins, so a specialised adapter (rotated boxes) overrides a general one
(boxes). A new task needs no line here.
"""
from __future__ import annotations

import functools
import importlib
import pkgutil

from mmengine.config import Config

import convzoo.tasks
from convzoo.core.errors import ConfigError


@functools.cache
def adapters() -> tuple[type, ...]:
    """Every task's adapter, highest priority first."""
    found = []
    for info in pkgutil.iter_modules(convzoo.tasks.__path__):
        if info.ispkg and importlib.util.find_spec(f'convzoo.tasks.{info.name}.inference'):
            found.append(importlib.import_module(f'convzoo.tasks.{info.name}.inference').ADAPTER)
    return tuple(sorted(found, key=lambda cls: -getattr(cls, 'priority', 0)))


def task_for(cfg: Config, **kwargs):
    """The adapter that serves ``cfg``, constructed."""
    for cls in adapters():
        if cls.matches(cfg):
            return cls(cfg, **kwargs)
    raise ConfigError(f'no inference adapter serves this config (default_scope={cfg.get("default_scope")!r}, '
                      f'model type {cfg.model.get("type")!r}); known: {[c.__name__ for c in adapters()]}')
