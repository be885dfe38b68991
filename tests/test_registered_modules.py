"""timm-style sweep: every module convzoo registers builds from its registry, runs forward and backward on a tiny
input without NaN, and gives every parameter a gradient. A newly registered module without an entry in SAMPLES
fails ``test_every_registered_module_has_a_sample``."""
import inspect

import pytest
import torch

C = 8
PYRAMID = [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]


def _pyramid(n=2):
    return [torch.randn(n, C, h, w) for h, w in PYRAMID]


def _pairs(n=2):
    return [(torch.randn(n, C, h, w), torch.randn(n, C, h, w)) for h, w in PYRAMID]


_ANCHORS = dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
                strides=[8, 16, 32, 64, 128])

# registered name -> (registry scope, config, input factory, call style)
SAMPLES = {
    'SEPC': ('mmdet', dict(type='SEPC', in_channels=[C] * 5, out_channels=C, pconv_deform=True,
                           lcconv_deform=True, ibn=True), _pyramid, 'single'),
    'SEPCRetinaHead': ('mmdet', dict(type='SEPCRetinaHead', num_classes=3, in_channels=C, feat_channels=C,
                                     anchor_generator=_ANCHORS), _pairs, 'single'),
}


def _registries():
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmseg.registry import MODELS as MMSEG_MODELS

    from convzoo.registry import MODELS as CONVZOO_MODELS
    return {'mmdet': MMDET_MODELS, 'mmseg': MMSEG_MODELS, 'convzoo': CONVZOO_MODELS}


def registered_convzoo_modules():
    found = {}
    for scope, registry in _registries().items():
        for name, cls in registry.module_dict.items():
            if inspect.isclass(cls) and cls.__module__.startswith('convzoo.'):
                found[name] = scope
    return found


def test_every_registered_module_has_a_sample():
    registered = registered_convzoo_modules()
    assert set(SAMPLES) == set(registered), 'add the new module to SAMPLES'
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
    scope, cfg, make_input, _ = SAMPLES[name]
    torch.manual_seed(0)
    module = _registries()[scope].build(cfg)
    module.train()
    out = _tensors(module(make_input()))
    assert out and all(torch.isfinite(t).all() for t in out)
    sum((t.float() * torch.randn_like(t.float())).sum() for t in out).backward()
    for pname, p in module.named_parameters():
        assert p.grad is not None, f'{name}.{pname} got no gradient'
        assert torch.isfinite(p.grad).all(), f'{name}.{pname} has a non-finite gradient'
