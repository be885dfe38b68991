"""RCNet (RevFP + CSN): shapes, the initial gates and attention maps, the cross-scale shift rule, the RevFP node
algebra at initialisation, argument checks and the parameter count against an independent count."""
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from convzoo.necks.rcnet import CSN, FusionGate, RCNet, UpsampleAttention

C = 16
IN_CHANNELS = [8, 16, 32, 64]


def backbone(sizes=((33, 47), (17, 24), (9, 12), (5, 6)), n=2):
    """C2-C5 with odd sizes, as a ResNet gives them for a 130x188 input (each level ceil-halves)."""
    torch.manual_seed(0)
    return [torch.randn(n, c, h, w) for c, (h, w) in zip(IN_CHANNELS, sizes)]


def build(**kwargs):
    cfg = dict(type='RCNet', in_channels=IN_CHANNELS, out_channels=C, start_level=1,
               norm_cfg=dict(type='BN', requires_grad=True), **kwargs)
    return MODELS.build(cfg)


def test_outputs_have_the_input_sizes_then_ceil_halved():
    feats = backbone()
    out = build().eval()(feats)
    assert [tuple(o.shape) for o in out] == [(2, C, 17, 24), (2, C, 9, 12), (2, C, 5, 6), (2, C, 3, 3),
                                             (2, C, 2, 2)]
    assert all(torch.isfinite(o).all() for o in out)


def test_at_init_every_gate_is_half_and_every_attention_map_is_one():
    neck = build().eval()
    gates, maps = [], []
    for module in neck.modules():
        if isinstance(module, FusionGate):
            module.register_forward_hook(lambda m, i, o: gates.append(o))
        if isinstance(module, UpsampleAttention):
            module.register_forward_hook(lambda m, i, o: maps.append(o))
    neck(backbone())
    assert len(gates) == 1 + 3 * 2 + 1  # p3: 1, p4-p6: 2 each, p7: 1
    assert len(maps) == 4  # p3-p6 have upsample attention, p7 has none
    assert all(torch.equal(g, torch.full_like(g, 0.5)) for g in gates)
    assert all(torch.allclose(a, torch.ones_like(a), atol=1e-6) for a in maps)


def test_p3_at_init_is_post_fusion_of_the_average_of_c3_and_upsampled_c4():
    neck = build().eval()
    feats = backbone()
    seen = {}
    neck.rev_fp[0].register_forward_hook(lambda m, i, o: seen.update(p3=o))
    neck(feats)
    c3, c4 = [conv(f) for conv, f in zip(neck.laterals, feats[1:3])]
    up = F.interpolate(c4, size=c3.shape[-2:], mode='bilinear', align_corners=False)
    expected = neck.rev_fp[0].post_fusion(0.5 * c3 + 0.5 * up)
    assert torch.allclose(seen['p3'], expected, atol=1e-5)


def test_csn_shift_sends_each_channel_group_to_the_rule_level():
    csn = CSN(in_channels=32)  # part = 32 // 16 = 2 channels per shifted group
    levels, part = 5, 2
    x = torch.arange(levels, dtype=torch.float32).view(1, levels, 1, 1, 1).expand(3, levels, 32, 4, 4)
    shifted = csn.scale_shift.shift(x)
    assert shifted.shape == (3, levels, 32 + 4 * part, 4, 4)
    rule = {0: +1, 1: -1, 2: +2, 3: -2}  # group g at output level l reads level (l + rule[g]) mod 5
    for level in range(levels):
        for group, offset in rule.items():
            block = shifted[:, level, group * part:(group + 1) * part]
            assert torch.all(block == (level + offset) % levels), (level, group)
        assert torch.all(shifted[:, level, 4 * part:] == level)  # the full unshifted input follows


def test_csn_after_any_five_level_pyramid_keeps_shapes_and_adds_to_each_level():
    csn = CSN(in_channels=C).eval()
    pyramid = [torch.randn(1, C, s, s) for s in (16, 8, 4, 2, 1)]
    out = csn(pyramid)
    assert [o.shape for o in out] == [p.shape for p in pyramid]
    assert all(not torch.equal(o, p) for o, p in zip(out, pyramid))
    with pytest.raises(ValueError, match='expects 5 pyramid levels, got 4'):
        csn(pyramid[:4])


def test_bad_arguments_are_refused_with_the_reason():
    with pytest.raises(ValueError, match='add_extra_convs'):
        build(add_extra_convs='on_top')
    with pytest.raises(ValueError, match='num_outs=6'):
        build(num_outs=6)
    with pytest.raises(ValueError, match=r'exactly 3 backbone levels'):
        MODELS.build(dict(type='RCNet', in_channels=IN_CHANNELS, out_channels=C, start_level=0))
    with pytest.raises(ValueError, match='at least the shift ratio'):
        CSN(in_channels=8)


def test_reference_name_and_plain_conv_variant():
    assert MODELS.get('RCFPN') is RCNet and MODELS.get('CrossShiftNet') is CSN
    neck = build(out_conv_cfg=dict(type='Conv2d'))  # the exportable variant: no DCNv2
    assert not any('offset' in name for name, _ in neck.named_parameters())
    out = neck(backbone())
    sum(o.sum() for o in out).backward()
    assert all(p.grad is not None for p in neck.parameters())


def test_parameter_count_matches_an_independent_count_of_the_paper_neck():
    neck = MODELS.build(dict(type='RCNet', in_channels=[256, 512, 1024, 2048], out_channels=256, start_level=1,
                             num_outs=5, norm_cfg=dict(type='BN', requires_grad=True)))
    c, bn = 256, 2 * 256
    laterals = (512 + 1024 + 2048) * c + 3 * bn  # 1x1 convs without bias (BN follows), BN affine
    extra = 2 * (c * c + bn)
    dcn = c * c * 9 + (c * 54 * 9 + 54) + bn  # DCNv2 weight (no bias: BN follows), offset/mask conv (3*2*9), BN
    gate, attention = 2 * c + 1, 2 * c * 9 + 1 + 1  # gate conv; attention conv + temperature
    nodes = (dcn + gate + attention) + 3 * (2 * dcn + 2 * gate + attention) + (dcn + gate)
    shift = 5 * ((c + c // 4) * c + bn + c * c + c)  # per level: 1x1 conv (no bias) + BN, 1x1 conv with bias
    branches = 2 * ((c + 1) + (c * c + c))
    assert sum(p.numel() for p in neck.parameters()) == laterals + extra + nodes + shift + branches
    fpn = MODELS.build(dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, start_level=1,
                            add_extra_convs='on_input', num_outs=5))
    assert sum(p.numel() for p in neck.parameters()) < sum(p.numel() for p in fpn.parameters())


def test_fusion_convs_keep_mmcv_dcnv2_parameters_and_state_dict_keys():
    """The fusion convs are mmcv's ModulatedDeformConv2dPack (conv_cfg type 'DCNv2') whatever dcn_impl: a
    ConvModule built by mmcv's own registry loads strictly into a node's post_fusion, with the same keys."""
    from mmcv.cnn import ConvModule
    from mmcv.ops import ModulatedDeformConv2dPack
    torch_neck, mmcv_neck = build(dcn_impl='torch'), build(dcn_impl='mmcv')
    assert list(torch_neck.state_dict()) == list(mmcv_neck.state_dict())
    reference = ConvModule(C, C, 3, padding=1, conv_cfg=dict(type='DCNv2', deform_groups=2),
                           norm_cfg=dict(type='BN', requires_grad=True), order=('act', 'conv', 'norm'))
    assert type(reference.conv) is ModulatedDeformConv2dPack
    for node in torch_neck.rev_fp:
        assert isinstance(node.post_fusion.conv, ModulatedDeformConv2dPack)
        assert list(node.post_fusion.state_dict()) == list(reference.state_dict())
    assert 'rev_fp.1.pre_fusion.conv.conv_offset.weight' in torch_neck.state_dict()
    torch_neck.rev_fp[1].post_fusion.load_state_dict(reference.state_dict(), strict=True)
    with pytest.raises(ValueError, match='dcn_impl'):
        build(dcn_impl='cuda')


def test_grid_sample_and_mmcv_fusion_convs_give_the_same_outputs_and_gradients():
    torch.manual_seed(1)
    necks = {impl: build(dcn_impl=impl) for impl in ('mmcv', 'torch')}
    state = necks['mmcv'].state_dict()
    for key in state:  # non-zero offsets and masks, so that the deformable sampling is really exercised
        if 'conv_offset' in key:
            state[key] = torch.randn_like(state[key]) * 0.3
    outputs, grads = {}, {}
    for impl, neck in necks.items():
        neck.load_state_dict(state)
        neck.train()
        feats = [f.requires_grad_() for f in backbone(sizes=((17, 23), (9, 12), (5, 6), (3, 3)))]
        out = neck(feats)
        sum((o * torch.linspace(-1, 1, o.shape[-1])).sum() for o in out).backward()
        outputs[impl] = out
        grads[impl] = [f.grad for f in feats[1:]] + [p.grad for p in neck.parameters()]
    # float32 rounding differs (summation order), and train-mode BN over tiny maps amplifies it: compare each
    # tensor to its own scale (the softmax-attention biases have exactly zero gradient, up to rounding noise)
    for a, b in zip(outputs['mmcv'] + tuple(grads['mmcv']), outputs['torch'] + tuple(grads['torch'])):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-3 * max(a.abs().max().item(), 1.0))
