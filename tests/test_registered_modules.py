"""timm-style sweep: every module convzoo registers builds from its registry, runs forward and backward on a tiny
input without NaN, and gives every parameter a gradient.

Samples live in tests/module_samples/<task>.py as ``SAMPLES = {name: (scope, cfg, make_args)}``, or in the
module's own file as ``SWEEP_SAMPLES`` of the same form (so a new neck needs its file and a config, nothing in
tests/); a registered module without a sample fails ``test_every_registered_module_has_a_sample``.
"""
import importlib.util
import inspect
import sys
from pathlib import Path

import pytest
import torch


def _load_samples() -> dict:
    samples = {}
    for path in sorted((Path(__file__).parent / 'module_samples').glob('*.py')):
        spec = importlib.util.spec_from_file_location(f'convzoo_samples_{path.stem}', path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        clash = set(samples) & set(module.SAMPLES)
        assert not clash, f'{path.name}: samples defined twice: {clash}'
        samples.update(module.SAMPLES)
    return samples


def _declared_samples() -> dict:
    """``SWEEP_SAMPLES`` declared by convzoo's own modules."""
    return {name: sample for module in list(sys.modules.values()) if module is not None
            and module.__name__.startswith('convzoo.') for name, sample in getattr(module, 'SWEEP_SAMPLES', {}).items()}


SAMPLES = {**_load_samples(), **_declared_samples()}


def _registries():
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmseg.registry import MODELS as MMSEG_MODELS

    from convzoo.core.registry import MODELS as CONVZOO_MODELS
    return {'mmdet': MMDET_MODELS, 'mmseg': MMSEG_MODELS, 'convzoo': CONVZOO_MODELS}


def registered_convzoo_modules() -> dict:
    found = {}
    for scope, registry in _registries().items():
        for name, cls in registry.module_dict.items():
            if inspect.isclass(cls) and cls.__module__.startswith('convzoo.') and issubclass(cls, torch.nn.Module):
                found[name] = scope
    return found


def test_every_registered_module_has_a_sample():
    registered = registered_convzoo_modules()
    assert set(registered) - set(SAMPLES) == set(), 'add a sample to tests/module_samples/'
    assert set(SAMPLES) - set(registered) == set(), 'a sample names a module that is not registered'
    assert all(SAMPLES[name][0] == scope for name, scope in registered.items())


def _tensors(out):
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _tensors(o)]
    return []


@pytest.mark.parametrize('name', sorted(SAMPLES))
def test_build_forward_backward(name):
    scope, cfg, make_args = SAMPLES[name]
    torch.manual_seed(0)
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(scope):  # other tests may have left another default scope set
        module = _registries()[scope].build(cfg)
    module.train()
    out = _tensors(module(*make_args()))
    assert out and all(torch.isfinite(t).all() for t in out)
    sum((t.float() * torch.randn_like(t.float())).sum() for t in out if t.is_floating_point()).backward()
    for pname, p in module.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f'{name}.{pname} got no gradient'
            assert torch.isfinite(p.grad).all(), f'{name}.{pname} has a non-finite gradient'
