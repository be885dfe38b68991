"""ESPCN, MIRNet and DEA-Net: shapes, index mappings, kernel invariants, weight sharing, deploy equivalence."""
import pytest
import torch
import torch.nn.functional as F

from convzoo.layers.dea_conv import DEConv, fold_deconvs
from convzoo.restorers.dea_net import CGA, CGAFusion, DEANet
from convzoo.restorers.espcn import ESPCN, ESPCNInference
from convzoo.restorers.mirnet import DAU, SKFF, BlurPool, MIRNet


# ---- ESPCN ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('scale', [2, 3, 4, 8])
def test_espcn_output_is_scale_times_input_for_odd_sizes(scale):
    out = ESPCN(scale=scale)(torch.rand(2, 1, 7, 9))
    assert out.shape == (2, 1, 7 * scale, 9 * scale)


def test_pixel_shuffle_index_mapping_matches_the_periodic_shuffle():
    r, c, h, w = 3, 2, 4, 5
    x = torch.randn(1, c * r * r, h, w)
    out = torch.nn.PixelShuffle(r)(x)
    for ch in range(c):
        for i in range(r):
            for j in range(r):
                for y in range(h):
                    for z in range(w):
                        assert out[0, ch, y * r + i, z * r + j] == x[0, ch * r * r + i * r + j, y, z]


def test_espcn_zero_weights_and_bias_give_the_bias_pattern():
    r = 3
    net = ESPCN(scale=r)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.last_conv.bias.copy_(torch.arange(r * r, dtype=torch.float32))
    out = net(torch.rand(1, 1, 4, 6))[0, 0]
    for i in range(r):
        for j in range(r):
            assert torch.all(out[i::r, j::r] == i * r + j)


def _conv_params(cin, cout, k):
    return cin * cout * k * k + cout


@pytest.mark.parametrize('kwargs', [dict(scale=3), dict(scale=2, in_channels=3, clamp_output=True),
                                    dict(scale=4, variant='pytorch_examples')])
def test_espcn_inference_form_equals_the_plain_network(kwargs, perturb):
    net = perturb(ESPCN(**kwargs)).eval()
    x = torch.rand(2, net.in_channels, 23, 17)
    with torch.no_grad():
        expected = net(x)
        for band_rows in (None, 5, 23):  # whole frame; bands with halos (including a 3-row last band); one band
            fast = net.optimize_for_inference(band_rows=band_rows)
            assert isinstance(fast, ESPCNInference) and fast.scale == net.scale
            out = fast(x)
            assert out.shape == expected.shape and (out - expected).abs().max() < 1e-4, band_rows
    with pytest.raises(RuntimeError, match='inference form'):
        fast.train()


def test_espcn_variants_structure_and_parameter_counts():
    paper = ESPCN(scale=3)
    assert len(paper.hidden) == 2 and isinstance(paper.act, torch.nn.Tanh)
    assert [m.kernel_size[0] for m in (*paper.hidden, paper.last_conv)] == [5, 3, 3]
    assert sum(p.numel() for p in paper.parameters()) == (_conv_params(1, 64, 5) + _conv_params(64, 32, 3)
                                                          + _conv_params(32, 9, 3))
    examples = ESPCN(scale=3, variant='pytorch_examples')
    assert len(examples.hidden) == 3 and isinstance(examples.act, torch.nn.ReLU)
    assert sum(p.numel() for p in examples.parameters()) == (_conv_params(1, 64, 5) + _conv_params(64, 64, 3)
                                                             + _conv_params(64, 32, 3) + _conv_params(32, 9, 3))
    assert abs(paper.last_conv.weight.std().item() - 1e-3) < 3e-4  # paper_reimpl init of the last layer


# ---- MIRNet --------------------------------------------------------------------------------------------------------
def small_mirnet(**kw):
    return MIRNet(n_feat=8, n_rrg=2, n_mrb=2, **kw)


def test_mirnet_shape_and_size_check():
    net = small_mirnet()
    assert net(torch.rand(1, 3, 16, 24)).shape == (1, 3, 16, 24)
    with pytest.raises(ValueError, match='divisible by 4'):
        net(torch.rand(1, 3, 18, 24))


def _unique(net, cls):
    return {id(m) for m in net.modules() if isinstance(m, cls)}


def test_mirnet_weight_sharing_reproduces_the_reference_and_can_be_turned_off():
    shared, free = small_mirnet(), small_mirnet(share_dau_weights=False, share_prelu=False)
    n_mrb_total, height, width = 2 * 2, 3, 2
    assert len(_unique(shared, DAU)) == n_mrb_total * height  # one DAU per stream per MRB
    assert len({id(d.body[1]) for d in shared.modules() if isinstance(d, DAU)}) == 1  # one PReLU for all
    assert len(_unique(free, DAU)) == n_mrb_total * height * width
    assert len({id(d.body[1]) for d in free.modules() if isinstance(d, DAU)}) == n_mrb_total * height * width


def test_mirnet_paper_default_parameter_count_matches_the_authors_figure():
    count = sum(p.numel() for p in MIRNet().parameters())  # de-duplicated, as the authors count
    assert abs(count - 31.7e6) / 31.7e6 < 0.005, count


# Key names read from the reference's networks/MIRNet_model.py (written here as a fixture).
REFERENCE_MIRNET_KEYS = [
    'conv_in.weight', 'conv_out.weight', 'body.0.body.2.weight',
    'body.0.body.0.blocks.0.0.body.0.weight', 'body.0.body.0.blocks.0.1.body.1.weight',
    'body.0.body.0.blocks.2.1.SA.spatial.conv.weight', 'body.0.body.0.blocks.1.0.CA.conv_du.0.weight',
    'body.0.body.0.blocks.1.0.CA.conv_du.2.weight', 'body.0.body.0.blocks.1.0.conv1x1.weight',
    'body.0.body.0.last_up.1.body.0.top.2.weight', 'body.0.body.0.last_up.2.body.1.bot.1.weight',
    'body.0.body.0.down.{0}_4.body.1.top.4.filt', 'body.0.body.0.down.{0}_2.body.0.bot.0.filt',
    'body.0.body.0.down.{1}_2.body.0.top.5.weight', 'body.0.body.0.up.{2}_4.body.0.top.0.weight',
    'body.0.body.0.up.{1}_2.body.0.bot.1.weight', 'body.0.body.0.conv_out.weight',
    'body.0.body.0.selective_kernel.0.conv_du.0.weight', 'body.0.body.0.selective_kernel.2.conv_du.1.weight',
    'body.0.body.0.selective_kernel.1.fcs.2.weight',
]


def test_mirnet_state_dict_has_the_reference_layout_with_equal_aliases():
    net = small_mirnet()
    sd = net.state_dict()
    for key in REFERENCE_MIRNET_KEYS:
        assert key.format(8, 16, 32) in sd, key
    assert not any(k.endswith('.bias') for k in sd)
    assert torch.equal(sd['body.0.body.0.blocks.1.0.body.0.weight'], sd['body.0.body.0.blocks.1.1.body.0.weight'])
    assert sd['body.0.body.0.down.8_2.body.0.bot.0.filt'].shape == (8, 1, 3, 3)
    MIRNet(n_feat=8, n_rrg=2, n_mrb=2).load_state_dict(sd, strict=True)


def test_blurpool_is_the_normalised_121_filter_after_reflect_padding():
    x = torch.randn(2, 5, 9, 10)
    taps = torch.tensor([1., 2., 1.])
    kernel = (taps[:, None] * taps[None]) / 16
    expected = F.conv2d(F.pad(x, (1, 1, 1, 1), mode='reflect'), kernel.expand(5, 1, 3, 3), stride=2, groups=5)
    assert torch.allclose(BlurPool(5)(x), expected)


def test_skff_attention_sums_to_one_over_the_branches():
    skff = SKFF(16, height=3)
    weights = skff.attention([torch.randn(2, 16, 4, 4) for _ in range(3)])
    assert weights.shape == (2, 3, 16, 1, 1)
    assert torch.allclose(weights.sum(1), torch.ones(2, 16, 1, 1))


# ---- DEA-Net -------------------------------------------------------------------------------------------------------
def explicit_branch_sum(deconv: DEConv, x: torch.Tensor) -> torch.Tensor:
    """The five branches computed literally on pixel differences (independent of the kernel rules)."""
    n, c, h, w = x.shape
    patches = F.unfold(x, 3, padding=1).view(n, c, 9, h * w)  # neighbourhood values, row-major index k

    def apply(weights9, values):  # weights (O, C, 9), values (N, C, 9, L)
        return torch.einsum('ock,nckl->nol', weights9, values).view(n, -1, h, w)

    centre = patches[:, :, 4:5]
    ring_next = {0: 1, 1: 2, 2: 5, 5: 8, 8: 7, 7: 6, 6: 3, 3: 0}
    angular = torch.zeros_like(patches)
    for i, j in ring_next.items():
        angular[:, :, i] = patches[:, :, i] - patches[:, :, j]
    w_cd = deconv.conv1_1.conv.weight.flatten(2)
    w_ad = deconv.conv1_4.conv.weight.flatten(2)
    u, v = deconv.conv1_2.conv.weight, deconv.conv1_3.conv.weight
    horizontal = patches.view(n, c, 3, 3, -1)[:, :, :, 0] - patches.view(n, c, 3, 3, -1)[:, :, :, 2]
    vertical = patches.view(n, c, 3, 3, -1)[:, :, 0] - patches.view(n, c, 3, 3, -1)[:, :, 2]
    out = apply(w_cd, patches - centre) + apply(w_ad, angular) + apply(u, horizontal) + apply(v, vertical)
    out = out + deconv.conv1_5(x) - deconv.conv1_5.bias.view(1, -1, 1, 1)
    bias = sum(m.bias for m in (deconv.conv1_1.conv, deconv.conv1_2.conv, deconv.conv1_3.conv,
                                deconv.conv1_4.conv, deconv.conv1_5))
    return out + bias.view(1, -1, 1, 1)


def test_deconv_merged_conv_equals_the_explicit_five_branch_sum():
    deconv = DEConv(4, 6)
    x = torch.randn(2, 4, 7, 8)
    with torch.no_grad():
        assert torch.allclose(deconv(x), explicit_branch_sum(deconv, x), atol=1e-5)


def test_difference_kernels_sum_to_zero_and_adc_centre_is_zero():
    deconv = DEConv(5)
    kernels = deconv.branch_kernels()
    for name in ('central', 'angular', 'horizontal', 'vertical'):
        weight = kernels[name][0]
        assert weight.shape == (5, 5, 3, 3)
        assert torch.allclose(weight.sum((2, 3)), torch.zeros(5, 5), atol=1e-6), name
    assert torch.all(kernels['angular'][0][:, :, 1, 1] == 0)
    merged, _ = deconv.merged_kernel()
    assert torch.allclose(merged.sum((2, 3)), kernels['vanilla'][0].sum((2, 3)), atol=1e-5)
    assert deconv.conv1_2.conv.weight.shape == (5, 5, 3) and deconv.conv1_3.conv.weight.shape == (5, 5, 3)


def test_deconv_runs_in_float64_with_kernels_on_the_weights_device_and_dtype():
    deconv = DEConv(3).double()
    x = torch.randn(1, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    out = deconv(x)
    assert out.dtype == torch.float64 and deconv.merged_kernel()[0].device == x.device
    out.sum().backward()
    assert deconv.conv1_2.conv.weight.grad is not None
    assert torch.autograd.gradcheck(lambda inp: deconv(inp), (x[:, :, :4, :4].detach().requires_grad_(),))


def test_deployed_deanet_equals_the_training_form(perturb):
    net = perturb(DEANet(base_dim=8)).eval()
    x = torch.rand(1, 3, 24, 32)
    with torch.no_grad():
        before = net(x)
        net.switch_to_deploy()
        after = net(x)
    assert not any(isinstance(m, DEConv) for m in net.modules())
    assert (before - after).abs().max() < 1e-4
    # the deployed state dict loads strictly into a network built with deploy=True
    DEANet(base_dim=8, deploy=True).load_state_dict(net.state_dict(), strict=True)


def test_deployed_deconv_is_a_plain_conv2d_with_the_settings_and_layout_of_one():
    deconv = DEConv(6)
    conv, reference = deconv.to_conv2d(), torch.nn.Conv2d(6, 6, 3, padding=1)
    assert type(conv) is torch.nn.Conv2d
    for attr in ('in_channels', 'out_channels', 'kernel_size', 'stride', 'padding', 'dilation', 'groups',
                 'padding_mode'):
        assert getattr(conv, attr) == getattr(reference, attr), attr
    for name in ('weight', 'bias'):
        mine, theirs = getattr(conv, name), getattr(reference, name)
        assert mine.dtype == theirs.dtype and mine.stride() == theirs.stride() and mine.is_contiguous(), name
        assert isinstance(mine, torch.nn.Parameter) and mine.grad_fn is None, name


def test_fold_deconvs_replaces_every_deconv():
    net = DEANet(base_dim=4)
    assert fold_deconvs(net) == 4 + 4 + 8 + 4 + 4


def test_deanet_parameter_counts_match_an_independent_count():
    deploy = DEANet(deploy=True)
    train = DEANet()
    per_width = {32: 8, 64: 8, 128: 8}  # DEConvs per width: 8 DEBlocks at 32 and 64, 8 DEABlocks at 128
    deploy_count = sum(p.numel() for p in deploy.parameters())
    train_count = sum(p.numel() for p in train.parameters())
    # train form = deploy form + four extra branches per DEConv: CD, AD (C*C*9 + C each), HD, VD (C*C*3 + C each)
    expected_extra = sum(n * (2 * (c * c * 9 + c) + 2 * (c * c * 3 + c)) for c, n in per_width.items())
    assert train_count - deploy_count == expected_extra
    assert sum(isinstance(m, DEConv) for m in train.modules()) == sum(per_width.values())
    assert abs(deploy_count - 3.653e6) / 3.653e6 < 0.01, deploy_count  # the paper's published figure


def test_cga_fusion_weights_with_double_sigmoid_lie_in_half_to_sigmoid_one():
    fusion = CGAFusion(8, reduction=4)
    w = fusion.fusion_weights(torch.randn(2, 8, 6, 6) * 5, torch.randn(2, 8, 6, 6) * 5)
    assert w.min() > 0.5 and w.max() < 0.7311
    single = CGAFusion(8, reduction=4, double_sigmoid=False)
    single.load_state_dict(fusion.state_dict())
    x, y = torch.randn(2, 8, 6, 6), torch.randn(2, 8, 6, 6)
    assert torch.allclose(torch.sigmoid(single.fusion_weights(x, y)), fusion.fusion_weights(x, y))


def test_cga_pixel_refinement_in_parts_equals_the_reference_grouped_conv():
    """pa2 is evaluated as depthwise conv + spatial conv + channel term; the reference interleaves the feature
    with the broadcast coarse map and runs the grouped 7x7 conv. Same parameters, same result, gradients too."""
    torch.manual_seed(0)
    cga = CGA(16, reduction=4)
    x = torch.randn(2, 16, 10, 14, requires_grad=True)

    def reference(x):
        coarse = (cga.sa(x) + cga.ca(x)).expand_as(x)
        return torch.sigmoid(cga.pa.pa2(torch.stack([x, coarse], dim=2).flatten(1, 2)))

    ours, ref = cga(x), reference(x)
    assert torch.allclose(ours, ref, atol=1e-6)
    grad = torch.randn_like(ref)
    ours_grads = torch.autograd.grad(ours, [x, cga.pa.pa2.weight, cga.ca.ca[0].weight], grad)
    ref_grads = torch.autograd.grad(ref, [x, cga.pa.pa2.weight, cga.ca.ca[0].weight], grad)
    for a, b in zip(ours_grads, ref_grads):
        assert torch.allclose(a, b, atol=1e-5)
