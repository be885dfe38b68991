"""The grid_sample deformable conv equals mmcv's compiled op (values and gradients), for DCNv1 and DCNv2."""
import pytest
import torch
import torch.nn.functional as F

from convzoo.layers.deform import deform_conv2d_any_size, modulated_deform_conv2d_any_size

CASES = [  # (input size, stride, dilation, groups, deform_groups)
    ((9, 7), 1, 1, 1, 1), ((9, 7), 2, 1, 1, 1), ((10, 8), 1, 2, 1, 2), ((6, 6), 1, 1, 2, 1), ((1, 2), 1, 1, 1, 1),
    ((2, 1), 2, 1, 1, 1),
]


def _inputs(size, stride, dilation, groups, deform_groups, seed=0):
    g = torch.Generator().manual_seed(seed)
    c, o, k = 4, 6, 3
    x = torch.randn(2, c, *size, generator=g, dtype=torch.float64)
    w = torch.randn(o, c // groups, k, k, generator=g, dtype=torch.float64)
    out = [(s + 2 * dilation - dilation * (k - 1) - 1) // stride + 1 for s in size]
    offset = torch.randn(2, 2 * k * k * deform_groups, *out, generator=g, dtype=torch.float64) * 1.5
    mask = torch.rand(2, k * k * deform_groups, *out, generator=g, dtype=torch.float64)
    return x, w, offset, mask, dict(stride=stride, padding=dilation, dilation=dilation, groups=groups,
                                    deform_groups=deform_groups)


def _grads(fn, *tensors):
    tensors = [t.clone().requires_grad_() for t in tensors]
    out = fn(*tensors)
    out.backward(torch.cos(torch.arange(out.numel(), dtype=out.dtype)).view_as(out))
    return out.detach(), [t.grad for t in tensors]


@pytest.mark.parametrize('case', CASES)
def test_dcn_v1_torch_equals_mmcv(case):
    x, w, offset, _, kw = _inputs(*case)
    x, w, offset = x.float(), w.float(), offset.float()  # mmcv's CPU kernel is float32
    ref, ref_grads = _grads(lambda a, b, c: deform_conv2d_any_size(a, c, b, impl='mmcv', **kw), x, w, offset)
    out, grads = _grads(lambda a, b, c: deform_conv2d_any_size(a, c, b, impl='torch', **kw), x, w, offset)
    assert torch.allclose(out, ref, atol=1e-4, rtol=1e-4)
    for g, r in zip(grads, ref_grads):
        assert torch.allclose(g, r, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize('case', CASES)
def test_dcn_v2_torch_equals_mmcv(case):
    x, w, offset, mask, kw = _inputs(*case, seed=1)
    x, w, offset, mask = x.float(), w.float(), offset.float(), mask.float()
    bias = torch.randn(w.shape[0])
    ref, ref_grads = _grads(lambda a, b, c, d: modulated_deform_conv2d_any_size(a, c, d, b, bias, impl='mmcv', **kw),
                            x, w, offset, mask)
    out, grads = _grads(lambda a, b, c, d: modulated_deform_conv2d_any_size(a, c, d, b, bias, impl='torch', **kw),
                        x, w, offset, mask)
    assert torch.allclose(out, ref, atol=1e-4, rtol=1e-4)
    for g, r in zip(grads, ref_grads):
        assert torch.allclose(g, r, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize('impl', ['torch', 'mmcv'])
def test_zero_offsets_give_the_plain_convolution(impl):
    x, w = torch.randn(2, 4, 9, 7), torch.randn(6, 4, 3, 3)
    out = deform_conv2d_any_size(x, torch.zeros(2, 18, 9, 7), w, 1, 1, impl=impl)
    assert torch.allclose(out, F.conv2d(x, w, padding=1), atol=1e-5)


def test_unknown_impl_is_refused():
    with pytest.raises(ValueError, match='impl'):
        deform_conv2d_any_size(torch.zeros(1, 1, 3, 3), torch.zeros(1, 18, 3, 3), torch.zeros(1, 1, 3, 3),
                               padding=1, impl='cuda')


@pytest.mark.parametrize('stride', [1, 2])
def test_row_chunked_torch_version_equals_the_whole_map(monkeypatch, stride):
    """Large maps are sampled and multiplied a band of output rows at a time: same values and gradients."""
    import convzoo.layers.deform as deform
    x, w, offset, mask, kw = _inputs((13, 11), stride, 1, 1, 2)
    bias = torch.randn(w.shape[0], dtype=w.dtype)
    fn = lambda a, b, c, d: modulated_deform_conv2d_any_size(a, c, d, b, bias, impl='torch', **kw)  # noqa: E731
    whole, whole_grads = _grads(fn, x, w, offset, mask)
    monkeypatch.setattr(deform, 'CHUNK_ELEMENTS', 4 * 9 * 11 * 3)  # bands of 3 (stride 1) or 5 (stride 2) rows
    monkeypatch.setattr(deform, 'CHUNK_MIN_ELEMENTS', 0)
    chunked, chunked_grads = _grads(fn, x, w, offset, mask)
    torch.testing.assert_close(chunked, whole)
    for a, b in zip(chunked_grads, whole_grads):
        torch.testing.assert_close(a, b)
    with torch.no_grad():  # the in-place modulation path
        torch.testing.assert_close(fn(x, w, offset, mask), whole)
