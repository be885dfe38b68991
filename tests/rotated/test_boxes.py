"""Rotated boxes: le90 convention, polygon round trips, rotated IoU, box-type transforms, anchors, coder, head loss."""
import math

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS, TASK_UTILS
from shapely.geometry import Polygon

from convzoo.heads.rotated_retina_head import nearest_periodic
from convzoo.structures.rotated_boxes import (
    DegeneratePolygonError,
    RotatedBoxes,
    poly_to_rbox,
    rbox_to_poly,
    regularize_le90,
    rotated_iou,
)


def random_boxes(n: int, seed: int = 0, angle_range: float = math.pi) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(20, 200, (n, 2)), rng.uniform(4, 60, (n, 2)),
                            rng.uniform(-angle_range, angle_range, n)])


def same_corners(poly_a: np.ndarray, poly_b: np.ndarray, atol: float) -> bool:
    """Equal as sets of 4 corners (any start point or orientation)."""
    a, b = poly_a.reshape(4, 2), poly_b.reshape(4, 2)
    return all(np.abs(b - p).sum(1).min() < atol for p in a)


def test_regularize_gives_the_le90_convention_without_moving_the_box():
    boxes = random_boxes(200, angle_range=3 * math.pi)  # angles far outside the range
    reg = regularize_le90(boxes)
    assert (reg[:, 2] >= reg[:, 3]).all()
    assert ((reg[:, 4] >= -math.pi / 2) & (reg[:, 4] < math.pi / 2)).all()
    for box, fixed in zip(rbox_to_poly(boxes), rbox_to_poly(reg)):
        assert same_corners(box, fixed, 1e-6)
    assert np.allclose(regularize_le90(reg), reg)  # idempotent
    assert torch.allclose(regularize_le90(torch.from_numpy(boxes)), torch.from_numpy(reg))


def test_polygon_rbox_round_trips():
    boxes = regularize_le90(random_boxes(300, seed=1))
    polys = rbox_to_poly(boxes)
    back = poly_to_rbox(polys)
    assert np.allclose(back[:, :4], boxes[:, :4], atol=1e-6)
    # the angle may differ by pi for a square-ish box only through w == h; otherwise identical
    assert np.allclose(np.cos(2 * (back[:, 4] - boxes[:, 4])), 1, atol=1e-9)
    # integer-rounded corners (as in DOTA files) go through cv2's minimum-area rectangle
    rounded = np.round(polys)
    for poly, box in zip(rounded, poly_to_rbox(rounded)):
        assert same_corners(poly, rbox_to_poly(box), atol=2.5)


def test_degenerate_polygons_are_refused_with_the_place_named():
    with pytest.raises(DegeneratePolygonError, match=r'labels.txt:7: polygon 0 is degenerate'):
        poly_to_rbox([[0, 0, 10, 10, 20, 20, 30, 30]], 'labels.txt:7')  # collinear
    with pytest.raises(DegeneratePolygonError, match='at least 4'):
        poly_to_rbox([[0, 0, 10, 0, 10, 10]], 'f.txt:1')
    with pytest.raises(DegeneratePolygonError, match='non-finite'):
        poly_to_rbox([[0, 0, 10, 0, 10, np.nan, 0, 10]], 'f.txt:2')


def test_rotated_iou_of_self_is_one_and_of_disjoint_boxes_zero():
    boxes = torch.from_numpy(regularize_le90(random_boxes(50, seed=2))).float()
    assert torch.allclose(rotated_iou(boxes, boxes, aligned=True), torch.ones(50), atol=1e-4)
    far = boxes.clone()
    far[:, 0] += 1000
    assert rotated_iou(boxes, far).abs().max() == 0


def test_rotated_iou_matches_polygon_geometry_in_the_documented_convention():
    a = regularize_le90(random_boxes(40, seed=3))
    b = a.copy()
    b[:, :2] += np.random.default_rng(4).uniform(-15, 15, (40, 2))
    b[:, 4] += np.random.default_rng(5).uniform(-0.6, 0.6, 40)
    ours = rotated_iou(torch.from_numpy(a).float(), torch.from_numpy(b).float(), aligned=True).numpy()
    for i, (pa, pb) in enumerate(zip(rbox_to_poly(a), rbox_to_poly(b))):
        sa, sb = Polygon(pa.reshape(4, 2)), Polygon(pb.reshape(4, 2))
        assert abs(ours[i] - sa.intersection(sb).area / sa.union(sb).area) < 2e-3


def test_candidate_prefilter_equals_the_dense_kernel():
    from mmcv.ops import box_iou_rotated
    a = torch.from_numpy(regularize_le90(random_boxes(60, seed=6))).float()
    b = torch.from_numpy(regularize_le90(random_boxes(80, seed=7))).float()
    assert torch.allclose(rotated_iou(a, b), box_iou_rotated(a, b), atol=1e-6)
    assert torch.allclose(rotated_iou(a, b, mode='iof'), box_iou_rotated(a, b, mode='iof'), atol=1e-6)


@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_flip_moves_the_polygon_like_the_image(direction):
    boxes = regularize_le90(random_boxes(30, seed=8))
    flipped = RotatedBoxes(torch.from_numpy(boxes))
    flipped.flip_((300, 240), direction)
    polys = rbox_to_poly(boxes).reshape(-1, 4, 2)
    if direction in ('horizontal', 'diagonal'):
        polys[..., 0] = 240 - polys[..., 0]
    if direction in ('vertical', 'diagonal'):
        polys[..., 1] = 300 - polys[..., 1]
    for expected, got in zip(polys, rbox_to_poly(flipped.tensor.numpy())):
        assert same_corners(expected.reshape(-1), got, 1e-6)


def test_rotate_and_rescale_follow_the_corners():
    import cv2
    boxes = regularize_le90(random_boxes(20, seed=9))
    rotated = RotatedBoxes(torch.from_numpy(boxes))
    rotated.rotate_((100.0, 80.0), 30.0)
    matrix = cv2.getRotationMatrix2D((100.0, 80.0), -30.0, 1)
    for poly, got in zip(rbox_to_poly(boxes), rbox_to_poly(rotated.tensor.numpy())):
        expected = poly.reshape(4, 2) @ matrix[:, :2].T + matrix[:, 2]
        assert same_corners(expected.reshape(-1), got, 1e-6)
    scaled = RotatedBoxes(torch.from_numpy(boxes))
    scaled.rescale_((0.5, 0.5))
    for poly, got in zip(rbox_to_poly(boxes), rbox_to_poly(scaled.tensor.numpy())):
        assert same_corners(poly * 0.5, got, 1e-6)
    stretched = RotatedBoxes(torch.from_numpy(boxes))
    stretched.rescale_((2.0, 0.5))
    assert torch.allclose(stretched.areas, RotatedBoxes(torch.from_numpy(boxes)).areas)  # area scales by sx * sy


def test_inside_points_and_box_type_conversion():
    box = RotatedBoxes(torch.tensor([[50.0, 50.0, 40.0, 10.0, math.pi / 4]]))
    points = torch.tensor([[50.0, 50.0], [60.0, 60.0], [60.0, 40.0]])
    assert box.find_inside_points(points)[:, 0].tolist() == [True, True, False]
    hbox = box.convert_to('hbox').tensor[0]
    half = (40 + 10) / 2 * math.cos(math.pi / 4)
    assert torch.allclose(hbox, torch.tensor([50 - half, 50 - half, 50 + half, 50 + half]), atol=1e-4)


def test_anchors_are_the_horizontal_anchors_as_rotated_boxes():
    from mmdet.models.task_modules.prior_generators import AnchorGenerator
    common = dict(octave_base_scale=4, scales_per_octave=1, ratios=[0.5, 1.0, 2.0], strides=[8, 16])
    rotated = TASK_UTILS.build(dict(type='RotatedAnchorGenerator', **common)).grid_priors([(4, 5), (2, 3)],
                                                                                          device='cpu')
    plain = AnchorGenerator(**common).grid_priors([(4, 5), (2, 3)], device='cpu')
    for r, p in zip(rotated, plain):
        assert r.shape == (len(p), 5)
        assert ((r[:, 4] == 0) | (r[:, 4] == -math.pi / 2)).all()  # horizontal; le90 turns tall ones by -90 deg
        assert torch.allclose(RotatedBoxes(r).convert_to('hbox').tensor, p, atol=1e-4)


def test_coder_round_trip_edge_swap_and_boundary_angles():
    coder = TASK_UTILS.build(dict(type='DeltaXYWHTCoder', target_stds=(0.1, 0.1, 0.2, 0.2, 0.1)))
    anchors = torch.from_numpy(regularize_le90(random_boxes(200, seed=10))).float()
    gts = torch.from_numpy(regularize_le90(random_boxes(200, seed=11))).float()
    deltas = coder.encode(anchors, gts)
    assert (deltas[:, 4].abs() * 0.1 <= math.pi / 4 + 1e-5).all()  # edge swap keeps |dtheta| <= pi/4
    decoded = coder.decode(anchors, deltas, wh_ratio_clip=1e-6).tensor
    assert torch.allclose(decoded[:, :4], gts[:, :4], atol=1e-3)
    assert torch.allclose(torch.cos(2 * (decoded[:, 4] - gts[:, 4])), torch.ones(200), atol=1e-5)
    # boxes just either side of the le90 boundary are nearly the same box: their targets must be close too
    anchor = torch.tensor([[50.0, 50.0, 40.0, 10.0, 0.0]])
    below = coder.encode(anchor, torch.tensor([[50.0, 50.0, 40.0, 10.0, math.pi / 2 - 0.01]]))
    above = coder.encode(anchor, torch.tensor([[50.0, 50.0, 40.0, 10.0, -math.pi / 2]]))
    assert (below - above).abs().max() < 0.2


def test_head_angle_loss_is_periodic():
    assert torch.allclose(nearest_periodic(torch.tensor([3.0, -3.0]), torch.tensor([0.0, 0.0]), math.pi),
                          torch.tensor([3.0 - math.pi, -3.0 + math.pi]))
    head = MODELS.build(dict(type='RotatedRetinaHead', num_classes=2, in_channels=8, feat_channels=8,
                             stacked_convs=1, bbox_coder=dict(type='DeltaXYWHTCoder', target_stds=(1, 1, 1, 1, 0.5))))
    cls_score, bbox_pred = torch.randn(1, 9 * 2, 2, 2), torch.randn(1, 9 * 5, 2, 2)
    labels, weights = torch.zeros(1, 36, dtype=torch.long), torch.ones(1, 36)
    targets = torch.randn(1, 36, 5)
    shifted = targets.clone()
    shifted[..., 4] += head.bbox_coder.angle_period * torch.randint(-2, 3, (1, 36))  # the same boxes
    args = (cls_score, bbox_pred, None, labels, weights)
    _, loss = head.loss_by_feat_single(*args, targets, torch.ones(1, 36, 5), avg_factor=36)
    _, loss_shifted = head.loss_by_feat_single(*args, shifted, torch.ones(1, 36, 5), avg_factor=36)
    assert torch.allclose(loss, loss_shifted, atol=1e-5)
