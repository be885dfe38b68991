"""Registry of per-task inference adapters.

An adapter class is constructed as ``Adapter(cfg, score_thr=...)`` and provides ``build_model()``,
``set_meta(checkpoint_meta)``, ``predict(model, images) -> list[dict]`` (JSON-able results) and
``draw(image, result) -> image``; its classmethod ``matches(cfg)`` says whether it serves a config. Each task
registers its adapter from its own module (e.g. ``convzoo/tasks/detection/inference.py``); the adapter with the
highest priority among those that match wins, so a specialised adapter (rotated boxes) overrides a general one.
"""
from __future__ import annotations

from mmengine.config import Config

_ADAPTERS: list[tuple[int, type]] = []


def register_task(priority: int = 0):
    def wrap(cls):
        _ADAPTERS.append((priority, cls))
        _ADAPTERS.sort(key=lambda item: -item[0])
        return cls
    return wrap


def task_for(cfg: Config, **kwargs):
    for _, cls in _ADAPTERS:
        if cls.matches(cfg):
            return cls(cfg, **kwargs)
    raise ValueError(f'no inference adapter serves this config (default_scope={cfg.get("default_scope")!r}, '
                     f'model type {cfg.model.get("type")!r}); known: {[c.__name__ for _, c in _ADAPTERS]}')
