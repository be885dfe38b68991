"""Fixtures of the restoration tests."""
import pytest
import torch


def _perturb(module, seed: int = 0, scale: float = 0.05):
    """Move every parameter off its initial value (trained-like weights: kernels not at their init symmetry)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * scale)
    return module


@pytest.fixture(scope='session')
def perturb():
    return _perturb


@pytest.fixture(autouse=True)
def convzoo_scope():
    """Run each test in scope convzoo and restore the previous default scope afterwards, so that the scope the
    tests (and the Inferencer) set does not leak into other test files run by the same process."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('convzoo'):
        yield
