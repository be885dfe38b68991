"""Focused tests of SEPC: shapes, equivalences, iBN statistics, level rules, head, checkpoint key mapping."""
import pytest
import torch
from torch import nn

from convzoo.heads import SEPCRetinaHead
from convzoo.layers import integrated_norm
from convzoo.necks import SEPC
from convzoo.necks.sepc import SEPCConv

C = 8
SIZES = [(16, 20), (8, 10), (4, 5), (2, 3), (1, 2)]  # FPN-like: each level ceil(previous / 2)


def pyramid(n=2, c=C, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, c, h, w, generator=g) for h, w in SIZES]


def sepc(**kw):
    torch.manual_seed(0)
    return SEPC(in_channels=[C] * 5, out_channels=C, **kw)


@pytest.mark.parametrize('variant', [dict(), dict(ibn=True), dict(ibn=True, lcconv_deform=True),
                                     dict(ibn=True, lcconv_deform=True, pconv_deform=True)])
def test_output_is_one_pair_per_level_with_input_shapes(variant):
    out = sepc(**variant)(pyramid())
    assert len(out) == 5
    for (cls, reg), (h, w) in zip(out, SIZES):
        assert cls.shape == reg.shape == (2, C, h, w)
        assert (cls >= 0).all() and (reg >= 0).all()  # ReLU is applied in every variant


def test_legacy_padding_shrinks_cls_reg_maps_by_two():
    feats = [torch.randn(1, C, s, s) for s in (48, 24, 12, 6, 3)]
    out = sepc(lcconv_padding=0)(feats)
    for (cls, reg), f in zip(out, feats):
        assert cls.shape[-2:] == (f.shape[-2] - 2, f.shape[-1] - 2)


def test_single_mode_returns_tensors():
    out = sepc(output_mode='single')(pyramid())
    assert all(isinstance(o, torch.Tensor) and o.shape[-2:] == s for o, s in zip(out, SIZES))


@pytest.mark.parametrize('dcn_impl', ['mmcv', 'torch'])
def test_full_sepc_at_initialisation_equals_pconv_with_the_same_weights(dcn_impl):
    full = sepc(pconv_deform=True, lcconv_deform=True, ibn=True, dcn_impl=dcn_impl).eval()
    plain = sepc(ibn=True).eval()
    own = plain.state_dict()
    plain.load_state_dict({k: v for k, v in full.state_dict().items() if k in own})
    for a, b in zip(full(pyramid()), plain(pyramid())):
        assert torch.allclose(a[0], b[0], atol=1e-5) and torch.allclose(a[1], b[1], atol=1e-5)
    # the offsets are truly zero-initialised, so the equality is not an accident of tiny offsets
    assert all(m.conv_offset.weight.abs().sum() == 0 for m in full.modules() if getattr(m, 'part_deform', 0))


def test_both_deformable_implementations_give_the_same_sepc():
    torch_net = sepc(pconv_deform=True, lcconv_deform=True, ibn=True, dcn_impl='torch').eval()
    mmcv_net = sepc(pconv_deform=True, lcconv_deform=True, ibn=True, dcn_impl='mmcv').eval()
    for m in torch_net.modules():
        if isinstance(m, SEPCConv):
            nn.init.normal_(m.conv_offset.weight, 0, 0.05)  # real, fractional offsets
    mmcv_net.load_state_dict(torch_net.state_dict())
    for a, b in zip(torch_net(pyramid()), mmcv_net(pyramid())):
        assert torch.allclose(a[0], b[0], atol=1e-5) and torch.allclose(a[1], b[1], atol=1e-5)


def test_lowest_level_never_takes_the_deformable_path():
    net = sepc(pconv_deform=True, stacked_convs=1, output_mode='single').eval()
    feats = pyramid()
    before = net(feats)
    for m in net.modules():
        if isinstance(m, SEPCConv):
            nn.init.normal_(m.conv_offset.bias, 0, 1.0)  # large non-zero offsets everywhere
    after = net(feats)
    assert torch.equal(before[0], after[0])
    assert all(not torch.allclose(b, a) for b, a in zip(before[1:], after[1:]))


def test_integrated_bn_uses_pixel_count_weighted_pooled_statistics():
    feats = [torch.randn(3, C, h, w) * (i + 1) + i for i, (h, w) in enumerate(SIZES)]
    bn = nn.BatchNorm2d(C, momentum=1.0)  # running stats = this batch's statistics
    out = integrated_norm(feats, bn)
    flat = torch.cat([f.permute(1, 0, 2, 3).reshape(C, -1) for f in feats], 1)  # all pixels of all levels
    pixels = sum(3 * h * w for h, w in SIZES)
    mean = flat.sum(1) / pixels
    var = ((flat - mean[:, None]) ** 2).sum(1) / pixels
    assert torch.allclose(bn.running_mean, mean, atol=1e-5)
    assert torch.allclose(bn.running_var, var * pixels / (pixels - 1), atol=1e-4)  # unbiased running var
    for f, o in zip(feats, out):
        expect = (f - mean.view(1, C, 1, 1)) / torch.sqrt(var.view(1, C, 1, 1) + bn.eps)
        assert torch.allclose(o, expect, atol=1e-4)
    assert bn.num_batches_tracked.item() == 1  # one update per call, not one per level


def test_one_norm_per_pconv_layer_and_per_branch():
    net = sepc(ibn=True, stacked_convs=3)
    norms = [n for n, m in net.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert sorted(norms) == ['cls_norm', 'pconvs.0.norm', 'pconvs.1.norm', 'pconvs.2.norm', 'reg_norm']


def test_initialisation_follows_the_paper():
    net = sepc(pconv_deform=True, lcconv_deform=True)
    convs = [m for m in net.modules() if isinstance(m, SEPCConv)]
    assert len(convs) == 4 * 3 + 2
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert abs(weights.std().item() - 0.01) < 0.001 and all(m.bias.abs().sum() == 0 for m in convs)


def test_rejects_mismatched_channels():
    with pytest.raises(ValueError, match='in_channels'):
        SEPC(in_channels=[256, 256, 512, 256, 256], out_channels=256)


def test_official_checkpoint_keys_load():
    net = sepc(ibn=True, lcconv_deform=True)
    legacy = {}
    for k, v in net.state_dict().items():
        k = k.replace('pconvs.', 'Pconvs.').replace('up_conv', 'Pconv.0').replace('lateral_conv', 'Pconv.1')
        k = k.replace('down_conv', 'Pconv.2').replace('.norm.', '.bn.').replace('cls_conv', 'cconv')
        k = k.replace('reg_conv', 'lconv').replace('cls_norm', 'cbn').replace('reg_norm', 'lbn')
        legacy[k] = torch.randn_like(v.float()).to(v.dtype)
    fresh = sepc(ibn=True, lcconv_deform=True)
    result = fresh.load_state_dict(legacy, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(fresh.pconvs[2].down_conv.weight, legacy['Pconvs.2.Pconv.2.weight'])
    assert torch.equal(fresh.reg_norm.running_mean, legacy['lbn.running_mean'])


def _head():
    return SEPCRetinaHead(num_classes=3, in_channels=C, feat_channels=C,
                          anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=3,
                                                ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32, 64, 128]))


def test_head_has_no_towers_and_accepts_pairs_and_tensors():
    head = _head()
    assert len(head.cls_convs) == 0 and len(head.reg_convs) == 0
    x = torch.randn(1, C, 6, 6)
    y = torch.randn(1, C, 6, 6)
    cls_pair, reg_pair = head.forward_single((x, y))
    assert torch.equal(cls_pair, head.retina_cls(x)) and torch.equal(reg_pair, head.retina_reg(y))
    cls_single, reg_single = head.forward_single(x)
    assert torch.equal(cls_single, head.retina_cls(x)) and torch.equal(reg_single, head.retina_reg(x))
    assert cls_single.shape == (1, 9 * 3, 6, 6)
