"""ARC: the rotation matrix R(theta), the routing function, the adaptive rotated convolution and ARC-ResNet."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from convzoo.backbones.arc_resnet import ARCResNet
from convzoo.converters.arc_resnet import convert_reference_state_dict
from convzoo.layers.adaptive_rotated_conv import AdaptiveRotatedConv2d, RoutingFunction, rotation_matrix

ANGLES = torch.linspace(-math.pi / 4, math.pi / 4, 91, dtype=torch.float64)
# cell k = 3 * row + col -> offset (u, v) = (col - 1, 1 - row): x right, y up
CELL_UV = [(k % 3 - 1, 1 - k // 3) for k in range(9)]
EDGES = (1, 3, 5, 7)


def test_rotation_matrix_at_zero_is_the_identity_exactly():
    assert torch.equal(rotation_matrix(torch.zeros(3))[1], torch.eye(9))
    assert torch.equal(rotation_matrix(torch.zeros((), dtype=torch.float64)), torch.eye(9, dtype=torch.float64))


def test_rows_are_convex_weights_and_the_centre_is_fixed():
    R = rotation_matrix(ANGLES)
    assert torch.allclose(R.sum(-1), torch.ones(len(ANGLES), 9, dtype=torch.float64), atol=1e-12)
    assert (R >= -1e-12).all()
    assert torch.equal(R[:, 4], torch.eye(9, dtype=torch.float64)[4].expand(len(ANGLES), 9))
    constant = torch.full((9,), 2.5, dtype=torch.float64)
    assert torch.allclose(R @ constant, constant.expand(len(ANGLES), 9))


def test_continuous_at_zero_from_both_sides():
    eps = torch.tensor([1e-7, -1e-7], dtype=torch.float64)
    assert (rotation_matrix(eps) - torch.eye(9, dtype=torch.float64)).abs().max() < 1e-6


@pytest.mark.parametrize('degrees', [25.0, -25.0])
def test_hand_checked_rows_in_the_reference_notation(degrees):
    theta = math.radians(degrees)
    x, y = math.cos(theta), math.sin(theta)
    a, b, c = x - y, x * y, x + y
    R = rotation_matrix(torch.tensor(theta, dtype=torch.float64))
    expected = torch.zeros(2, 9, dtype=torch.float64)
    if degrees > 0:  # top-left row on cells (0, 1); top-middle row on cells (1, 2, 4, 5)
        expected[0, [0, 1]] = torch.tensor([a, 1 - a], dtype=torch.float64)
        expected[1, [1, 2, 4, 5]] = torch.tensor([x - b, b, 1 - c + b, y - b], dtype=torch.float64)
    else:  # mirrored: the corner leans on cell 3, the top edge on corner 0 and edge 3
        expected[0, [0, 3]] = torch.tensor([c, 1 - c], dtype=torch.float64)
        expected[1, [0, 1, 3, 4]] = torch.tensor([-b, x + b, b - y, 1 - a - b], dtype=torch.float64)
    assert torch.allclose(R[:2], expected, atol=1e-12)


def _bilinear_row(cell: int, theta: float) -> torch.Tensor:
    """Independent geometry: bilinear weights of the 3x3 grid at the cell's position rotated clockwise by theta."""
    u, v = CELL_UV[cell]
    su = math.cos(theta) * u + math.sin(theta) * v
    sv = -math.sin(theta) * u + math.cos(theta) * v
    row = torch.zeros(9, dtype=torch.float64)
    for k, (gu, gv) in enumerate(CELL_UV):
        row[k] = max(0.0, 1 - abs(su - gu)) * max(0.0, 1 - abs(sv - gv))
    return row


@pytest.mark.parametrize('degrees', [-40.0, -12.5, 3.0, 30.0, 45.0])
def test_edge_rows_are_bilinear_interpolation_at_the_rotated_position(degrees):
    theta = math.radians(degrees)
    R = rotation_matrix(torch.tensor(theta, dtype=torch.float64))
    for cell in EDGES:
        assert torch.allclose(R[cell], _bilinear_row(cell, theta), atol=1e-12), cell


def test_positive_angle_turns_the_kernel_counter_clockwise():
    # A kernel that is 1 on the right-middle cell (5): rotated by +45 deg its mass moves towards the top-right corner.
    kernel = torch.zeros(9, dtype=torch.float64)
    kernel[5] = 1
    rotated = rotation_matrix(torch.tensor(math.radians(45), dtype=torch.float64)) @ kernel
    assert rotated[2] > 0.7 and rotated[8] == 0


@pytest.mark.parametrize('degrees,tolerance', [(2.0, 0.02), (10.0, 0.08), (40.0, 0.16)])
def test_rotating_by_theta_then_minus_theta_approximately_restores_smooth_kernels(degrees, tolerance):
    """Interpolation blurs, so R(-t) R(t) is not I: for linear-ramp kernels the error stays below the stated
    tolerance (fraction of the kernel's value range): 2% at 2 deg, 8% at 10 deg, 16% at 40 deg. A constant kernel
    is restored exactly."""
    theta = torch.tensor(math.radians(degrees), dtype=torch.float64)
    u = torch.tensor([uv[0] for uv in CELL_UV], dtype=torch.float64)
    v = torch.tensor([uv[1] for uv in CELL_UV], dtype=torch.float64)
    coefs = torch.randn(100, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ramps = coefs[:, :1] * u + coefs[:, 1:2] * v + coefs[:, 2:]
    back = ramps @ (rotation_matrix(-theta) @ rotation_matrix(theta)).T
    error = (back - ramps).abs().max(1).values / (ramps.max(1).values - ramps.min(1).values)
    assert error.max() < tolerance
    assert error.max() > 0.2 * tolerance  # the tolerance is tight: the blur is real


def test_rotation_matrix_is_differentiable_in_theta():
    theta = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rotation_matrix, (theta,))


def _arc(n=1, c_in=4, c_out=6, **kw) -> AdaptiveRotatedConv2d:
    torch.manual_seed(0)
    return AdaptiveRotatedConv2d(c_in, c_out, kernel_number=n, **kw).eval()


def test_one_kernel_zero_angle_unit_gate_equals_conv2d_exactly():
    conv = _arc(n=1, stride=2, padding=1)
    x = torch.randn(1, 4, 11, 9)
    out = conv.conv_with(x, torch.ones(1, 1), torch.zeros(1, 1))
    assert torch.equal(out, F.conv2d(x, conv.weight[0], stride=2, padding=1))


def test_zero_angles_equal_a_conv_with_the_gate_weighted_sum_of_kernels():
    conv = _arc(n=4, dilation=2, padding=2)
    x = torch.randn(3, 4, 10, 10)
    alpha = torch.rand(3, 4)
    out = conv.conv_with(x, alpha, torch.zeros(3, 4))
    for b in range(3):
        mixed = (alpha[b].view(4, 1, 1, 1, 1) * conv.weight).sum(0)
        assert torch.allclose(out[b:b + 1], F.conv2d(x[b:b + 1], mixed, padding=2, dilation=2), atol=1e-5)


def test_grouped_conv_over_the_batch_equals_a_loop_over_samples():
    conv = _arc(n=3, c_in=8, c_out=4, groups=2, stride=2)
    x = torch.randn(5, 8, 9, 12)
    alpha, theta = torch.rand(5, 3), (torch.rand(5, 3) - 0.5) * 1.3
    batched = conv.conv_with(x, alpha, theta)
    looped = torch.cat([conv.conv_with(x[b:b + 1], alpha[b:b + 1], theta[b:b + 1]) for b in range(5)])
    assert torch.allclose(batched, looped, atol=1e-5)
    conv.per_sample_loop = True
    assert torch.allclose(conv.conv_with(x, alpha, theta), batched, atol=1e-5)


def test_sample_outputs_do_not_depend_on_the_other_samples():
    conv = _arc(n=4, c_in=4, c_out=4)
    x = torch.randn(3, 4, 8, 8)
    y = x.clone()
    y[1:] = torch.randn(2, 4, 8, 8)
    assert torch.allclose(conv(x)[0], conv(y)[0], atol=1e-6)


def test_nonzero_angles_change_the_output_and_match_a_conv_with_the_rotated_kernel():
    conv = _arc(n=1)
    x = torch.randn(1, 4, 8, 8)
    theta = torch.tensor([[0.5]])
    out = conv.conv_with(x, torch.ones(1, 1), theta)
    rotated = (rotation_matrix(theta[0, 0]) @ conv.weight[0].reshape(-1, 9).T).T.reshape(conv.weight[0].shape)
    assert torch.allclose(out, F.conv2d(x, rotated, padding=1), atol=1e-5)
    assert not torch.allclose(out, F.conv2d(x, conv.weight[0], padding=1), atol=1e-3)


def test_routing_function_outputs():
    router = RoutingFunction(16, kernel_number=4).eval()
    with torch.no_grad():
        router.fc_theta.weight.mul_(500)  # push the angles towards their bound
        alpha, theta = router(torch.randn(6, 16, 7, 7))
    assert alpha.shape == theta.shape == (6, 4)
    assert ((alpha > 0) & (alpha < 1)).all()
    assert (theta.abs() < math.radians(40)).all() and theta.abs().max() > math.radians(30)


def test_kernel_init_follows_the_five_dimensional_kaiming_call():
    torch.manual_seed(0)
    conv = AdaptiveRotatedConv2d(64, 128, kernel_number=4)
    expected = math.sqrt(2 / (4 * 64 * 9))  # fan_out = n * C_in * 9 for the 5-D tensor
    assert conv.weight.shape == (4, 128, 64, 3, 3)
    assert abs(conv.weight.std().item() / expected - 1) < 0.02
    assert abs(conv.routing_func.dwc.weight.std().item() / 0.02 - 1) < 0.1


def test_only_3x3_kernels():
    with pytest.raises(ValueError, match='3x3'):
        AdaptiveRotatedConv2d(4, 4, kernel_size=5)


def _count_arc_params(channels: int, n: int) -> int:
    """Independent count of an ARC conv's parameters: n kernels plus the router (dwc, LayerNorm, two linears)."""
    return n * channels * channels * 9 + channels * 9 + 2 * channels + (channels * n + n) + channels * n


def test_arc_resnet50_defaults_shapes_and_parameter_count():
    torch.manual_seed(0)
    arc = MODELS.build(dict(type='ARCResNet', depth=50, base_channels=8, init_cfg=None))
    plain = MODELS.build(dict(type='ResNet', depth=50, base_channels=8, init_cfg=None))
    converted = {n: m for n, m in arc.named_modules() if isinstance(m, AdaptiveRotatedConv2d)}
    assert sorted(converted) == sorted(f'layer{s}.{b}.conv2' for s, blocks in ((2, 4), (3, 6), (4, 3))
                                       for b in range(blocks))
    assert all(m.kernel_number == 4 for m in converted.values())
    assert arc.layer2[0].conv2.stride == 2 and arc.layer1[0].conv2.__class__ is torch.nn.Conv2d
    widths = {2: 16, 3: 32, 4: 64}
    extra = sum(_count_arc_params(widths[s], 4) - widths[s] ** 2 * 9 for s, blocks in ((2, 4), (3, 6), (4, 3))
                for _ in range(blocks))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(arc) == count(plain) + extra
    x = torch.randn(2, 3, 64, 64)
    arc.init_weights()
    outs = arc(x)
    assert [o.shape for o in outs] == [o.shape for o in plain(x)]
    sum(o.sum() for o in outs).backward()
    assert all(p.grad is not None for p in arc.parameters())


def test_router_init_is_kept_unless_legacy_init():
    def dwc_std(legacy):
        torch.manual_seed(0)
        model = ARCResNet(50, base_channels=8, legacy_init=legacy)
        model.init_weights()
        return model.layer3[0].conv2.routing_func.dwc.weight.std().item()
    assert abs(dwc_std(False) / 0.02 - 1) < 0.15
    assert abs(dwc_std(True) / math.sqrt(2 / (32 * 9)) - 1) < 0.15  # mmengine's kaiming: fan_out = C * 9


def test_block_selection_frozen_stages_and_basic_blocks():
    model = ARCResNet(50, base_channels=8, arc_blocks=[['x'], ['0', '3'], 'all', []], kernel_number=2,
                      frozen_stages=2)
    converted = sorted(n for n, m in model.named_modules() if isinstance(m, AdaptiveRotatedConv2d))
    assert converted == ['layer2.0.conv2', 'layer2.3.conv2'] + [f'layer3.{i}.conv2' for i in range(6)]
    assert not any(p.requires_grad for p in model.layer2[0].conv2.parameters())
    assert all(p.requires_grad for p in model.layer3[0].conv2.parameters())
    small = ARCResNet(18, base_channels=8)
    assert isinstance(small.layer2[0].conv1, AdaptiveRotatedConv2d) and small.layer2[0].conv1.stride == 2
    assert small(torch.randn(2, 3, 32, 32))[-1].shape == (2, 64, 1, 1)
    with pytest.raises(ValueError, match='stage 2 has blocks'):
        ARCResNet(50, arc_blocks=[[], ['4'], [], []])


def test_reference_checkpoint_keys_convert_and_load_strictly():
    model = ARCResNet(50, base_channels=8)
    reference = {k.replace('routing_func.', 'rounting_func.'): v for k, v in model.state_dict().items()}
    reference = {f'module.backbone.{k}' if 'layer' in k else k: v for k, v in reference.items()}
    assert any('rounting_func' in k for k in reference)
    converted = convert_reference_state_dict(reference)
    ARCResNet(50, base_channels=8).load_state_dict(converted, strict=True)
    assert all(k.startswith('backbone.') for k in convert_reference_state_dict(reference, prefix='backbone.'))


def test_serves_segmentation_configs_through_the_mmdet_scope():
    from mmseg.registry import MODELS as SEG_MODELS
    backbone = SEG_MODELS.build(dict(type='mmdet.ARCResNet', depth=50, base_channels=8, out_indices=(3,)))
    assert isinstance(backbone, ARCResNet)
