"""The torch deformable conv equals mmcv's compiled CPU op: output and the gradients with respect to input, offset,
weight (and mask for DCNv2), within float32 rounding, including sampling points on whole pixels (zero and integer
offsets), half-way points, random points and points on or beyond the border (-1, H, W), for DCNv1 and DCNv2."""
import os
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from convzoo.layers import deform, native
from convzoo.layers.deform import DCNv2Pack, deform_conv2d_any_size, modulated_deform_conv2d_any_size

CASES = [  # (input size, stride, dilation, groups, deform_groups)
    ((9, 7), 1, 1, 1, 1), ((13, 11), 1, 1, 1, 1), ((13, 11), 2, 1, 1, 2), ((10, 8), 1, 2, 1, 2),
    ((6, 6), 1, 1, 2, 1), ((7, 5), 2, 2, 2, 2), ((1, 2), 1, 1, 1, 1), ((2, 1), 2, 1, 1, 1),
]
OFFSETS = ['zero', 'integer', 'half', 'random', 'outside']


def _offsets(kind, shape, size, g):
    """Offsets putting the sampling points on whole pixels, half-way, anywhere, or mostly off the map."""
    if kind == 'zero':  # with padding, the border taps sit exactly at -1 and at H / W
        return torch.zeros(shape)
    if kind == 'integer':
        return torch.randint(-3, 4, shape, generator=g).float()
    if kind == 'half':
        return torch.randint(-3, 4, shape, generator=g) + 0.5
    if kind == 'random':
        return torch.randn(shape, generator=g) * 1.5
    return (torch.rand(shape, generator=g) * 2 - 1) * (max(size) + 3)  # 'outside'


def _inputs(size, stride, dilation, groups, deform_groups, kind, seed=0, c=4, o=6):
    g = torch.Generator().manual_seed(seed)
    k = 3
    x = torch.randn(2, c, *size, generator=g)
    w = torch.randn(o, c // groups, k, k, generator=g)
    out = [(s + 2 * dilation - dilation * (k - 1) - 1) // stride + 1 for s in size]
    offset = _offsets(kind, (2, 2 * k * k * deform_groups, *out), size, g)
    mask = torch.rand(2, k * k * deform_groups, *out, generator=g)
    return x, w, offset, mask, {'stride': stride, 'padding': dilation, 'dilation': dilation, 'groups': groups,
                                'deform_groups': deform_groups}


def _grads(fn, *tensors):
    tensors = [t.clone().requires_grad_() for t in tensors]
    out = fn(*tensors)
    out.backward(torch.cos(torch.arange(out.numel(), dtype=out.dtype)).view_as(out))
    return out.detach(), [t.grad for t in tensors]


def assert_float32_equal(actual, expected):
    """Equal within float32 rounding: relative 1e-5, and 1e-5 of the largest magnitude for entries near zero."""
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5 * float(expected.detach().abs().max()) + 1e-30)


@pytest.fixture
def without_native(monkeypatch):
    """convzoo's PyTorch sampling (embedding_bag) in place of the C sampler, as on a machine without a compiler."""
    def use():
        monkeypatch.setattr(native, 'deform_sampler', lambda: None)
    return use


def _check_same_as_mmcv(fn, *tensors):
    """Output and gradients with autograd (one matrix product), and the output without (banded strided conv of the
    C sampler's samples)."""
    ref, ref_grads = _grads(lambda *t: fn(*t, impl='mmcv'), *tensors)
    out, grads = _grads(lambda *t: fn(*t, impl='torch'), *tensors)
    assert_float32_equal(out, ref)
    for got, want in zip(grads, ref_grads):
        assert_float32_equal(got, want)
    assert native.deform_sampler() is not None, 'the C sampler should be built on a machine with a C compiler'
    with torch.no_grad():
        assert_float32_equal(fn(*tensors, impl='torch'), ref)


def _check_pytorch_sampling_same_as_mmcv(fn, *tensors):
    """Without autograd and without the C sampler: embedding_bag's samples."""
    with torch.no_grad():
        assert_float32_equal(fn(*tensors, impl='torch'), fn(*tensors, impl='mmcv'))


@pytest.mark.parametrize('kind', OFFSETS)
@pytest.mark.parametrize('case', CASES)
def test_dcn_v1_torch_equals_mmcv(case, kind, without_native):
    x, w, offset, _, kw = _inputs(*case, kind)
    fn = lambda a, b, c, impl: deform_conv2d_any_size(a, c, b, impl=impl, **kw)  # noqa: E731
    _check_same_as_mmcv(fn, x, w, offset)
    without_native()
    _check_pytorch_sampling_same_as_mmcv(fn, x, w, offset)


@pytest.mark.parametrize('kind', OFFSETS)
@pytest.mark.parametrize('case', CASES)
def test_dcn_v2_torch_equals_mmcv(case, kind, without_native):
    x, w, offset, mask, kw = _inputs(*case, kind, seed=1)
    bias = torch.randn(w.shape[0])
    fn = lambda a, b, c, d, impl: modulated_deform_conv2d_any_size(a, c, d, b, bias, impl=impl, **kw)  # noqa: E731
    _check_same_as_mmcv(fn, x, w, offset, mask)
    without_native()
    _check_pytorch_sampling_same_as_mmcv(fn, x, w, offset, mask)


def test_dcn_v2_with_many_channels_equals_mmcv():
    """Longer sums (32 channels x 9 taps per output) still agree within float32 rounding."""
    x, w, offset, mask, kw = _inputs((13, 11), 1, 1, 1, 2, 'random', seed=2, c=32, o=16)
    _check_same_as_mmcv(lambda a, b, c, d, impl: modulated_deform_conv2d_any_size(a, c, d, b, None, impl=impl, **kw),
                        x, w, offset, mask)


@pytest.mark.parametrize('point, expected', [((1, 1), [4.0, -1.0]), ((2, 1), [-5.0, -5.0]), ((-1, 0), [0.0, 0.0])])
def test_offset_gradient_is_the_right_sided_derivative_on_whole_pixels(point, expected):
    """One 1x1 tap (at stride 3: one output) on a 3x3 image: the offset gradient at a whole pixel is the step to the
    next pixel (0 past the last row), and 0 for a point at -1; mmcv's rule."""
    x = torch.tensor([[0., 0., 0.], [0., 1., 0.], [0., 5., 0.]]).view(1, 1, 3, 3)
    offset = torch.tensor(point, dtype=torch.float32).view(1, 2, 1, 1).requires_grad_()
    for impl in ('torch', 'mmcv'):
        offset.grad = None
        deform_conv2d_any_size(x, offset, torch.ones(1, 1, 1, 1), stride=3, impl=impl).sum().backward()
        assert offset.grad.flatten().tolist() == expected, impl


@pytest.mark.parametrize('impl', ['torch', 'mmcv'])
def test_zero_offsets_give_the_plain_convolution(impl):
    x, w = torch.randn(2, 4, 9, 7), torch.randn(6, 4, 3, 3)
    out = deform_conv2d_any_size(x, torch.zeros(2, 18, 9, 7), w, 1, 1, impl=impl)
    assert_float32_equal(out, F.conv2d(x, w, padding=1))


def test_torch_version_gradients_pass_gradcheck_in_float64():
    """Autograd's analytic gradients equal finite differences away from whole pixels (where the derivative jumps)."""
    x, w, offset, mask, kw = _inputs((5, 4), 2, 1, 2, 2, 'random', seed=3)
    offset = offset + 0.25 * (offset.frac().abs() < 0.05)  # keep the points clear of whole pixels

    def fn(a, b, c, d):
        return modulated_deform_conv2d_any_size(a, c, d, b, None, impl='torch', **kw)
    tensors = [t.double().requires_grad_() for t in (x, w, offset, mask)]
    assert torch.autograd.gradcheck(fn, tensors, eps=1e-6, atol=1e-6, fast_mode=True)


def test_unknown_impl_is_refused():
    with pytest.raises(ValueError, match='impl'):
        deform_conv2d_any_size(torch.zeros(1, 1, 3, 3), torch.zeros(1, 18, 3, 3), torch.zeros(1, 1, 3, 3),
                               padding=1, impl='cuda')


@pytest.mark.parametrize('sampler', ['C', 'PyTorch'])
@pytest.mark.parametrize('stride', [1, 2])
def test_banded_inference_equals_the_whole_map(monkeypatch, without_native, stride, sampler):
    """Without autograd, the output is computed a band of rows at a time (3 rows here): the same values as one band."""
    if sampler == 'PyTorch':
        without_native()
    x, w, offset, mask, kw = _inputs((13, 11), stride, 1, 2, 2, 'random')
    bias = torch.randn(w.shape[0])
    with torch.no_grad():
        whole = modulated_deform_conv2d_any_size(x, offset, mask, w, bias, impl='torch', **kw)
        for name in ('BAND_ELEMENTS', 'NATIVE_BAND_ELEMENTS'):
            monkeypatch.setattr(deform, name, 3 * 2 * 4 * 9 * offset.shape[-1])
        banded = modulated_deform_conv2d_any_size(x, offset, mask, w, bias, impl='torch', **kw)
    assert_float32_equal(banded, whole)


def test_c_sampler_gives_the_same_samples_on_any_number_of_threads():
    """The C sampler's rows split between threads: bit for bit the samples of one thread, for a band in the middle."""
    sampler = native.deform_sampler()
    x, _, offset, mask, _ = _inputs((13, 11), 1, 1, 1, 2, 'random', c=8)
    table = x.permute(0, 2, 3, 1).contiguous()
    images = []
    for threads in (1, 2, 5):
        image = torch.full((2, 4 * 3, 11 * 3, 8), float('nan'))
        sampler(table.data_ptr(), offset.data_ptr(), mask.data_ptr(), image.data_ptr(), 2, 13, 11, 8, 2, 13, 11, 3, 3,
                1, 1, 1, 1, 1, 1, 5, 4, threads)
        images.append(image)
    assert not images[0].isnan().any()  # every sample written
    assert all(torch.equal(image, images[0]) for image in images)


def test_c_sampler_builds_once_into_its_cache(tmp_path, monkeypatch):
    """The library is compiled under a temporary name and renamed; a second build finds it and compiles nothing."""
    monkeypatch.setenv('CONVZOO_NATIVE_CACHE', str(tmp_path))
    path = native.build()
    assert osp.dirname(path) == str(tmp_path) and osp.basename(path).startswith('deform_sample-')
    assert sorted(os.listdir(tmp_path)) == [osp.basename(path)]  # no partial file left behind
    built = os.stat(path).st_mtime_ns
    assert native.build() == path and os.stat(path).st_mtime_ns == built


@pytest.mark.parametrize('sampler', ['C', 'PyTorch'])
@pytest.mark.parametrize('bad', ['offset channels', 'mask channels', 'mask size', 'deform groups'])
def test_offsets_of_the_wrong_shape_are_refused(without_native, sampler, bad):
    """The C sampler reads offsets and mask by the kernel's sizes: a wrong shape is refused before it runs."""
    if sampler == 'PyTorch':
        without_native()
    x, w, offset, mask, kw = _inputs((9, 7), 1, 1, 1, 2, 'random')
    kw = dict(kw, deform_groups=3 if bad == 'deform groups' else 2)
    offset = offset[:, :-2] if bad == 'offset channels' else offset
    mask = mask[:, :-1] if bad == 'mask channels' else mask[..., :-1] if bad == 'mask size' else mask
    with torch.no_grad(), pytest.raises(ValueError, match='deformable conv'):
        modulated_deform_conv2d_any_size(x, offset, mask, w, None, impl='torch', **kw)


def test_c_sampler_can_be_switched_off(monkeypatch):
    monkeypatch.setenv('CONVZOO_NATIVE', '0')
    assert native.deform_sampler.__wrapped__() is None


def test_inference_follows_in_place_weight_updates():
    """The channels-last copy of the weight kept for inference is renewed when the weight changes in place."""
    x, w, offset, _, kw = _inputs((9, 7), 1, 1, 1, 1, 'random')
    with torch.no_grad():
        first = deform_conv2d_any_size(x, offset, w, impl='torch', **kw)
        w.mul_(2)
        assert_float32_equal(deform_conv2d_any_size(x, offset, w, impl='torch', **kw), 2 * first)


def test_dcnv2pack_torch_equals_mmcv_with_its_offset_conv():
    """The RCNet fusion conv: same output and parameter gradients as mmcv's op, with a trained-looking offset conv."""
    torch.manual_seed(0)
    layers = {impl: DCNv2Pack(4, 6, 3, padding=1, deform_groups=2, dcn_impl=impl) for impl in ('torch', 'mmcv')}
    torch.nn.init.normal_(layers['torch'].conv_offset.weight, std=0.3)
    layers['mmcv'].load_state_dict(layers['torch'].state_dict())
    x = torch.randn(2, 4, 13, 11)
    outs = {impl: layer(x) for impl, layer in layers.items()}
    assert_float32_equal(outs['torch'], outs['mmcv'])
    for out in outs.values():
        out.backward(torch.cos(torch.arange(out.numel(), dtype=out.dtype)).view_as(out))
    for p, q in zip(layers['torch'].parameters(), layers['mmcv'].parameters()):
        assert_float32_equal(p.grad, q.grad)


def test_auto_takes_the_torch_version_on_the_cpu():
    assert deform._resolve('auto', torch.zeros(1)) == 'torch'


@pytest.mark.parametrize('device_type, mmcv_has_cuda, expected', [
    ('cpu', False, 'torch'), ('cpu', True, 'torch'),  # the torch version is several times faster than mmcv's loop
    ('cuda', True, 'mmcv'), ('cuda', False, 'torch'),  # a CPU-only mmcv has no kernel for cuda tensors
    ('mps', True, 'torch'), ('xpu', False, 'torch')])
def test_auto_chooses_mmcv_only_on_cuda_with_mmcv_cuda_kernels(device_type, mmcv_has_cuda, expected):
    assert deform.auto_impl(device_type, mmcv_has_cuda) == expected


def test_gpu_without_mmcv_cuda_kernels_falls_back_with_one_warning(monkeypatch, recwarn):
    import warnings
    monkeypatch.setattr(deform, '_fallback_warned', False)  # as in a fresh process
    warnings.simplefilter('always')  # so that only convzoo's own once-per-process rule can hold a repeat back
    assert [deform.resolve_impl('auto', 'cuda', mmcv_has_cuda=False) for _ in range(3)] == ['torch'] * 3
    assert deform.resolve_impl('auto', 'cuda', mmcv_has_cuda=True) == 'mmcv'
    assert deform.resolve_impl('mmcv', 'cuda', mmcv_has_cuda=False) == 'mmcv'  # asked for explicitly: no fallback
    assert deform.resolve_impl('auto', 'cpu', mmcv_has_cuda=False) == 'torch'
    messages = [str(w.message) for w in recwarn.list]
    assert len(messages) == 1 and 'no CUDA kernels' in messages[0] and 'torch implementation' in messages[0]


def test_mmcv_kernels_run_dtypes_they_lack_in_float32():
    """mmcv's CPU kernels know no half or bfloat16: such inputs run in float32 and come back in their dtype."""
    x, weight, offset, _, _ = _inputs((9, 7), 1, 1, 1, 1, 'random')
    reference = deform_conv2d_any_size(x, offset, weight, padding=1, impl='mmcv')
    for dtype in (torch.float16, torch.bfloat16):
        low = deform_conv2d_any_size(x.to(dtype), offset.to(dtype), weight.to(dtype), padding=1, impl='mmcv')
        assert low.dtype == dtype
        assert (low.float() - reference).abs().max() / reference.abs().max() < 2e-2
