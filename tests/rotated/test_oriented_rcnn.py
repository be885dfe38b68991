"""Oriented R-CNN: midpoint-offset coder, oriented RPN proposals and their NMS, rotated RoIAlign conventions, the
detector's training on CPU, split-and-merge inference, mmrotate checkpoint keys, and bad input."""
import math

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from convzoo.core.errors import ConfigError, ConversionError
from convzoo.structures.rotated_boxes import RotatedBoxes, rbox_to_hbox, rbox_to_poly, regularize_le90

DEMO = 'configs/arc/demo/oriented-rcnn_r50_fpn_1x_dota_le90_demo.py'
HALF_PI = math.pi / 2


@pytest.fixture(autouse=True)
def mmdet_scope():
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


def build(cfg):
    from mmdet.registry import MODELS
    return MODELS.build(cfg)


def tiny_cfg(**changes):
    from convzoo.detectors.oriented_rcnn import tiny_model_cfg
    cfg = tiny_model_cfg()
    for path, value in changes.items():
        node = cfg
        *parents, last = path.split('.')
        for part in parents:
            node = node[part]
        node[last] = value
    return cfg


def same_rectangles(a, b) -> float:
    """Largest distance from a corner of a box in ``a`` to the nearest corner of its box in ``b`` (any order)."""
    pa = rbox_to_poly(torch.as_tensor(a, dtype=torch.float64)).reshape(-1, 4, 2)
    pb = rbox_to_poly(torch.as_tensor(b, dtype=torch.float64)).reshape(-1, 4, 2)
    return float((pa[:, :, None] - pb[:, None]).norm(dim=-1).min(-1).values.max())


# --- midpoint-offset coder ------------------------------------------------------------------------------------------

def test_midpoint_coder_hand_values_for_a_square_turned_30_degrees():
    from convzoo.heads.midpoint_offset_coder import MidpointOffsetCoder
    coder = MidpointOffsetCoder(use_box_type=False)
    anchor = torch.tensor([[80., 80., 120., 120.]])  # 40 px, same centre
    # side 40 turned 30 deg clockwise as displayed: hbox side 40 (cos 30 + sin 30) = 20 (1 + sqrt 3); the top vertex
    # is c - u - v = c + 20 (sin 30 - cos 30, -sin 30 - cos 30): 20 (sqrt 3 - 1)/2 left of the top edge's midpoint
    square = torch.tensor([[100., 100., 40., 40., math.pi / 6]])
    expected = [0, 0, math.log((1 + math.sqrt(3)) / 2), math.log((1 + math.sqrt(3)) / 2),
                (math.sqrt(3) - 2) / 2, (math.sqrt(3) - 2) / 2]  # da = -(cos - sin) / (2 (cos + sin)) = -0.134
    deltas = coder.encode(anchor, square)
    assert torch.allclose(deltas, torch.tensor([expected]), atol=1e-6)
    assert same_rectangles(coder.decode(anchor, deltas), square) < 1e-4
    turned_back = torch.tensor([[100., 100., 40., 40., -math.pi / 6]])  # mirror image: offsets change sign
    assert torch.allclose(coder.encode(anchor, turned_back)[0, 4:], torch.tensor([(2 - math.sqrt(3)) / 2] * 2),
                          atol=1e-6)
    axis_aligned = torch.tensor([[100., 100., 40., 20., 0.]])  # top vertex = top-right corner: da = db = 0.5
    assert torch.allclose(coder.encode(anchor, axis_aligned)[0, 4:], torch.tensor([0.5, 0.5]))
    normalised = MidpointOffsetCoder(target_stds=(1, 1, 1, 1, 0.5, 0.5), use_box_type=False)
    assert torch.allclose(normalised.encode(anchor, square)[0, 4:], torch.tensor([math.sqrt(3) - 2] * 2), atol=1e-6)


def test_midpoint_coder_round_trip_returns_the_box():
    from convzoo.heads.midpoint_offset_coder import MidpointOffsetCoder
    coder = MidpointOffsetCoder(target_stds=(1, 1, 1, 1, 0.5, 0.5), use_box_type=False)
    gen = torch.Generator().manual_seed(0)
    n = 4000
    boxes = torch.cat([torch.rand(n, 2, generator=gen) * 800, torch.rand(n, 2, generator=gen) * 150 + 0.5,
                       (torch.rand(n, 1, generator=gen) - 0.5) * math.pi], 1).double()
    # axis-aligned, le90 boundary, almost axis-aligned, thin boxes
    boxes[:50, 4], boxes[50:100, 4], boxes[100:150, 4] = 0, -HALF_PI, HALF_PI - 1e-7
    boxes[150:200, 4], boxes[200:250, 4], boxes[250:300, 4] = 1e-5, -1e-5, -HALF_PI + 1e-5
    boxes[300:400, 3] = 0.7
    boxes = regularize_le90(boxes)
    hbox = rbox_to_hbox(boxes)
    jitter = torch.rand(n, 4, generator=gen).double() * 8
    anchors = torch.cat([hbox[:, :2] - jitter[:, :2], hbox[:, 2:] + jitter[:, 2:]], 1)
    deltas = coder.encode(anchors, boxes)
    assert deltas[:, 4:].abs().max() <= 1.0 + 1e-9  # |da|, |db| <= 0.5 before the 0.5 std
    decoded = coder.decode(anchors, deltas)
    assert same_rectangles(decoded, boxes) < 1e-6
    assert (decoded[:, 2] >= decoded[:, 3]).all()


def test_midpoint_decode_makes_the_paper_rectangle_from_a_parallelogram():
    """da = 0.25, db = 0 on a 40 x 40 hbox: vertices (10, -20), (20, 0), (-10, 20), (-20, 0) about the centre; the
    shorter half-diagonal (20) is stretched to the longer one (sqrt(500)), giving a rectangle inscribed in the
    circle of radius sqrt(500) through the top and bottom vertices."""
    from convzoo.heads.midpoint_offset_coder import midpoint_to_rbox
    t = torch.tensor
    box = midpoint_to_rbox(t([0.]), t([0.]), t([40.]), t([40.]), t([0.25]), t([0.]))[0]
    r = math.sqrt(500)
    top, right = np.array([10., -20.]), np.array([r, 0.])
    width, height = np.linalg.norm(right - top), np.linalg.norm(top + right)
    assert np.allclose(sorted(box[2:4].tolist()), sorted([width, height]), atol=1e-4)
    corners = rbox_to_poly(box[None].double()).reshape(4, 2).numpy()
    assert np.allclose(np.linalg.norm(corners, axis=1), r, atol=1e-4)  # a rectangle: all corners on one circle
    assert any(np.allclose(c, top, atol=1e-4) for c in corners) and any(np.allclose(c, right, atol=1e-4)
                                                                        for c in corners)


# --- oriented RPN ---------------------------------------------------------------------------------------------------

def test_proposals_are_valid_le90_rotated_boxes():
    head = build(dict(type='OrientedRPNHead', in_channels=8, feat_channels=8,
                      anchor_generator=dict(type='AnchorGenerator', scales=[4], ratios=[0.5, 1.0, 2.0],
                                            strides=[8, 16, 32]),
                      test_cfg=dict(nms_pre=300, max_per_img=150, nms=dict(type='nms_rotated', iou_threshold=0.8),
                                    min_bbox_size=0)))
    torch.manual_seed(0)
    torch.nn.init.normal_(head.rpn_reg.weight, std=0.5)  # varied deltas: turned, stretched, offset boxes
    feats = [torch.randn(2, 8, s, s) for s in (16, 8, 4)]
    size = (128, 128)
    metas = [dict(img_shape=size, pad_shape=size, batch_input_shape=size, scale_factor=(1.0, 1.0))] * 2
    cls_scores, bbox_preds = head(feats)
    assert bbox_preds[0].shape[1] == 3 * 6  # six midpoint-offset deltas per anchor
    for result in head.predict_by_feat(cls_scores, bbox_preds, batch_img_metas=metas, rescale=False):
        boxes = result.bboxes
        assert isinstance(boxes, RotatedBoxes) and 0 < len(boxes) <= 150
        t = boxes.tensor
        assert torch.isfinite(t).all() and (t[:, 2] > 0).all() and (t[:, 3] > 0).all()
        assert (t[:, 2] >= t[:, 3]).all()
        assert (t[:, 4] >= -HALF_PI - 1e-6).all() and (t[:, 4] < HALF_PI + 1e-6).all()
        assert t[:, 4].std() > 0.1  # not all diamonds: the angles come from the predicted offsets
        assert (result.scores[:-1] >= result.scores[1:]).all()


def test_sparse_rotated_nms_returns_what_mmcv_nms_rotated_returns():
    from mmcv.ops import batched_nms, nms_rotated

    from convzoo.heads.oriented_rpn_head import nms_rotated_sparse
    gen = torch.Generator().manual_seed(1)
    n = 600
    originals = torch.cat([torch.rand(n // 3, 2, generator=gen) * 300, torch.rand(n // 3, 2, generator=gen) * 60 + 5,
                           (torch.rand(n // 3, 1, generator=gen) - 0.5) * 3], 1)
    # three jittered copies of each box: suppression at every threshold
    boxes = originals.repeat(3, 1) + torch.randn(n, 5, generator=gen) * torch.tensor([1.5, 1.5, 1.0, 1.0, 0.03])
    scores = torch.rand(n, generator=gen)
    labels = torch.randint(0, 3, (n,), generator=gen)
    for thr in (0.1, 0.5, 0.8):
        dets, keep = nms_rotated_sparse(boxes, scores, thr)
        ref_dets, ref_keep = nms_rotated(boxes, scores, thr)
        assert keep.tolist() == ref_keep.tolist() and torch.equal(dets, ref_dets)
        assert len(keep) < n
        # with labels only boxes of one label suppress each other (mmcv's CPU kernel ignores labels)
        _, keep = nms_rotated_sparse(boxes, scores, thr, labels=labels)
        per_label = torch.cat([torch.nonzero(labels == c)[:, 0][nms_rotated(boxes[labels == c], scores[labels == c],
                                                                              thr)[1]] for c in range(3)])
        assert keep.tolist() == per_label[scores[per_label].argsort(descending=True)].tolist()
    _, keep = batched_nms(boxes, scores, labels, dict(type=nms_rotated_sparse, iou_threshold=0.3))
    assert keep.tolist() == batched_nms(boxes, scores, labels, dict(type='nms_rotated', iou_threshold=0.3))[1].tolist()
    empty = nms_rotated_sparse(boxes[:0], scores[:0], 0.5)
    assert empty[0].shape == (0, 6) and empty[1].shape == (0,)


def test_rpn_drops_degenerate_proposals():
    head = build(dict(type='OrientedRPNHead', in_channels=8, feat_channels=8))
    boxes = torch.tensor([[20., 20., 10., 5., 0.3], [30., 30., 0., 6., 0.], [40., 40., 8., 0., 0.2],
                          [50., 50., float('nan'), 4., 0.], [60., 60., 12., 6., -1.0]])
    results = InstanceData(bboxes=RotatedBoxes(boxes), scores=torch.linspace(0.9, 0.5, 5),
                           level_ids=torch.zeros(5, dtype=torch.long))
    from mmengine.config import ConfigDict
    cfg = ConfigDict(nms_pre=10, max_per_img=10, nms=dict(type='nms_rotated', iou_threshold=0.8), min_bbox_size=0)
    kept = head._bbox_post_process(results, cfg)
    assert kept.bboxes.tensor[:, 0].tolist() == [20., 60.]
    nothing = head._bbox_post_process(results[1:4], cfg)
    assert isinstance(nothing.bboxes, RotatedBoxes) and len(nothing) == 0


# --- rotated RoI features ---------------------------------------------------------------------------------------------

def test_roi_align_rotated_of_an_axis_aligned_box_equals_roi_align():
    from mmcv.ops import RoIAlign
    extractor = build(dict(type='RotatedSingleRoIExtractor', out_channels=4, featmap_strides=[4]))
    feats = torch.randn(2, 4, 24, 32)
    boxes = torch.tensor([[0, 40., 30., 24., 16., 0.], [1, 61.5, 50.25, 37., 21., 0.], [0, 10., 80., 9., 13., 0.]])
    rotated = extractor([feats], boxes)
    x1y1, x2y2 = boxes[:, 1:3] - boxes[:, 3:5] / 2, boxes[:, 1:3] + boxes[:, 3:5] / 2
    plain = RoIAlign(7, spatial_scale=1 / 4, sampling_ratio=2, aligned=True)(feats, torch.cat([boxes[:, :1], x1y1,
                                                                                                x2y2], 1))
    assert torch.allclose(rotated, plain, atol=1e-5)


def test_roi_align_rotated_reads_along_the_le90_width_side():
    """On a feature map whose value is its x (or y) coordinate, the output's columns step along u = (cos, sin):
    the le90 width side, clockwise as displayed (RoIAlignRotated(clockwise=True))."""
    extractor = build(dict(type='RotatedSingleRoIExtractor', out_channels=1, featmap_strides=[1]))
    ys, xs = torch.meshgrid(torch.arange(64.), torch.arange(64.), indexing='ij')
    theta = 0.5
    roi = torch.tensor([[0, 32., 30., 28., 7., theta]])
    along_x = extractor([xs[None, None]], roi)[0, 0]
    along_y = extractor([ys[None, None]], roi)[0, 0]
    step = 28 / 7
    assert torch.allclose(along_x[3, 1:] - along_x[3, :-1], torch.full((6,), step * math.cos(theta)), atol=1e-4)
    assert torch.allclose(along_y[3, 1:] - along_y[3, :-1], torch.full((6,), step * math.sin(theta)), atol=1e-4)
    assert abs(float(along_x[3, 3]) - 31.5) < 1e-4 and abs(float(along_y[3, 3]) - 29.5) < 1e-4  # aligned: -0.5


def test_roi_levels_follow_the_rotated_box_area():
    extractor = build(dict(type='RotatedSingleRoIExtractor', out_channels=4, featmap_strides=[4, 8, 16, 32]))
    rois = torch.tensor([[0, 0, 0, 100., 10., 0.7], [0, 0, 0, 150., 150., 0.3], [0, 0, 0, 600., 600., 0.], [0, 0, 0,
                                                                                                        0, 0, 0]])
    assert extractor.map_roi_levels(rois, 4).tolist() == [0, 1, 3, 0]


# --- the detector -------------------------------------------------------------------------------------------------

def synthetic_batch(objects_per_image, size=128, seed=0):
    """Bright rotated rectangles on a noisy dark background; returns data for ``model.train_step``."""
    rng = np.random.default_rng(seed)
    inputs, samples = [], []
    for boxes in objects_per_image:
        image = rng.integers(0, 40, (size, size, 3), dtype=np.uint8)
        boxes = regularize_le90(np.asarray(boxes, np.float64).reshape(-1, 5))
        for poly, colour in zip(rbox_to_poly(boxes), ((255, 220, 0), (0, 220, 255), (220, 0, 255))):
            cv2.fillPoly(image, [np.round(poly.reshape(4, 2) - 0.5).astype(np.int32)], colour)
        inputs.append(torch.from_numpy(image).permute(2, 0, 1).contiguous())
        sample = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(bboxes=RotatedBoxes(torch.from_numpy(boxes).float()),
                                           labels=torch.arange(len(boxes)) % 3)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


TWO_IMAGES = [[[40, 44, 50, 16, 0.5], [90, 86, 40, 20, -0.8]], [[64, 64, 60, 24, 1.3], [30, 100, 30, 14, 0.0]]]


def test_detector_loss_decreases_on_a_fixed_batch():
    from mmengine.optim import OptimWrapper
    torch.manual_seed(0)
    model = build(tiny_cfg())
    model.init_weights()
    model.train()
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=2e-3))
    data = synthetic_batch(TWO_IMAGES)
    losses = []
    for _ in range(20):
        log = model.train_step(data, optim)
        losses.append(float(log['loss']))
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3]), losses
    assert set(log) >= {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'acc'}


def test_images_without_objects_train_with_finite_loss():
    torch.manual_seed(0)
    model = build(tiny_cfg())
    model.train()
    for objects in ([[], TWO_IMAGES[0][0]], [[], []]):
        data = model.data_preprocessor(synthetic_batch(objects), True)
        losses = model.loss(data['inputs'], data['data_samples'])
        total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(v) for k, v in losses.items() if 'loss' in k)
        assert torch.isfinite(total)
        model.zero_grad()
        total.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def _head_inputs(model, boxes_per_image):
    data = model.data_preprocessor(synthetic_batch(TWO_IMAGES), True)
    feats = model.extract_feat(data['inputs'])
    proposals = [InstanceData(bboxes=RotatedBoxes(torch.tensor(b, dtype=torch.float32)),
                              scores=torch.ones(len(b)), labels=torch.zeros(len(b), dtype=torch.long))
                 for b in boxes_per_image]
    return feats, proposals, data['data_samples']


def test_degenerate_proposals_are_dropped_in_training_and_prediction():
    torch.manual_seed(0)
    model = build(tiny_cfg())
    degenerate = [[[40, 44, 0, 0, 0.], [40, 44, 50, 16, 0.5], [60, 60, 30, 0, 0.2], [20, 20, float('inf'), 5, 0.]],
                  [[64, 64, 0, 10, 0.], [64, 64, 0, 0, 0.]]]  # the second image has no usable proposal at all
    feats, proposals, samples = _head_inputs(model, degenerate)
    model.train()
    losses = model.roi_head.loss(feats, [p.clone() for p in proposals], samples)
    assert all(torch.isfinite(v).all() for v in losses.values())
    model.eval()
    with torch.no_grad():
        results = model.roi_head.predict(feats, [p.clone() for p in proposals], samples)
        outputs = model.roi_head(feats, [p.clone() for p in proposals])
    assert all(torch.isfinite(r.bboxes).all() and (r.bboxes[:, 2:4] > 0).all() for r in results)
    assert outputs[0].shape[0] == 1  # one usable proposal of six
    usable = model.roi_head.usable_proposals(proposals[0])
    assert usable.bboxes.tensor.tolist() == [[40., 44., 50., 16., 0.5]]


def test_boxes_at_the_plus_minus_90_degree_boundary():
    from convzoo.heads.rotated_anchor_coder import DeltaXYWHTCoder
    from convzoo.heads.rotated_roi_head import RBOX_CODER
    coder = DeltaXYWHTCoder(**{k: v for k, v in RBOX_CODER.items() if k != 'type'})
    proposal = torch.tensor([[50., 50., 40., 10., -HALF_PI + 0.01]])
    target = torch.tensor([[50., 50., 40., 10., HALF_PI - 0.01]])  # the same box turned by -0.02 rad
    deltas = coder.encode(proposal, target)
    assert torch.allclose(deltas, torch.tensor([[0., 0., 0., 0., -0.02 / 0.1]]), atol=1e-4)
    assert same_rectangles(coder.decode(proposal, deltas).tensor, target) < 1e-3
    # the detector's head with zero deltas returns proposals at the boundary as they are, in the le90 range
    torch.manual_seed(0)
    model = build(tiny_cfg())
    model.eval()
    head = model.roi_head.bbox_head
    torch.nn.init.zeros_(head.fc_reg.weight), torch.nn.init.zeros_(head.fc_reg.bias)
    torch.nn.init.zeros_(head.fc_cls.weight)
    head.fc_cls.bias.data = torch.tensor([5., -5., -5., -5.])
    boundary = [[[40, 44, 50, 16, -HALF_PI], [90, 86, 40, 20, HALF_PI - 1e-4]], [[64, 64, 60, 24, HALF_PI]]]
    feats, proposals, samples = _head_inputs(model, boundary)
    with torch.no_grad():
        results = model.roi_head.predict(feats, proposals, samples)
    for result, boxes in zip(results, boundary):
        assert len(result.bboxes) == len(boxes)
        assert same_rectangles(result.bboxes, boxes) < 1e-3
        assert (result.bboxes[:, 4] >= -HALF_PI - 1e-6).all() and (result.bboxes[:, 4] < HALF_PI + 1e-6).all()
    # the midpoint coder at the boundary
    from convzoo.heads.midpoint_offset_coder import MidpointOffsetCoder
    mid = MidpointOffsetCoder(use_box_type=False)
    edge = regularize_le90(torch.tensor([[50., 50., 40., 10., -HALF_PI], [50., 50., 40., 10., HALF_PI - 1e-6]],
                                        dtype=torch.float64))
    anchors = rbox_to_hbox(edge) + torch.tensor([-3., -2., 4., 1.], dtype=torch.float64)
    assert same_rectangles(mid.decode(anchors, mid.encode(anchors, edge)), edge) < 1e-6


@pytest.mark.parametrize('path, value, key', [
    ('rpn_head.bbox_coder.angle_version', 'oc', 'angle_version'),
    ('roi_head.bbox_head.bbox_coder.angle_version', 'le135', 'angle_version'),
    ('roi_head.bbox_head.predict_box_type', 'hbox', 'predict_box_type'),
    ('roi_head.bbox_roi_extractor.roi_layer.clockwise', False, 'clockwise'),
    ('angle_version', 'le135', 'angle_version'),
])
def test_a_box_convention_other_than_le90_is_refused_naming_the_key(path, value, key):
    with pytest.raises(ConfigError, match=rf'model\.{path}=.*le90') as refused:
        build(tiny_cfg(**{path: value}))
    assert f'set model.{path}=' in str(refused.value) and key in str(refused.value)
    from convzoo.heads.midpoint_offset_coder import MidpointOffsetCoder  # the parts refuse on their own too
    with pytest.raises(ConfigError, match='bbox_coder.angle_version=.oc.'):
        MidpointOffsetCoder(angle_version='oc')
    with pytest.raises(ConfigError, match='roi_layer.clockwise=False'):
        build(dict(type='RotatedSingleRoIExtractor', roi_layer=dict(type='RoIAlignRotated', output_size=7,
                                                                    clockwise=False), featmap_strides=[4]))


# --- checkpoints --------------------------------------------------------------------------------------------------

def mmrotate_layout_state_dict(channels=16, fc=32, num_classes=3, num_anchors=3) -> dict:
    """Random weights under the key names and shapes of mmrotate 1.x's Oriented R-CNN for the tiny config
    (mmdet ``FasterRCNN``: mmdet ResNet + FPN, ``OrientedRPNHead``, ``StandardRoIHead`` with
    ``Shared2FCBBoxHead(reg_class_agnostic=True, predict_box_type='rbox')``)."""
    from mmdet.registry import MODELS
    resnet = MODELS.build(dict(type='ResNet', depth=18, base_channels=8, out_indices=(0, 1, 2, 3)))
    shapes = {f'backbone.{k}': v.shape for k, v in resnet.state_dict().items()}
    for i, c_in in enumerate([8, 16, 32, 64]):
        shapes[f'neck.lateral_convs.{i}.conv.weight'] = (channels, c_in, 1, 1)
        shapes[f'neck.lateral_convs.{i}.conv.bias'] = (channels,)
        shapes[f'neck.fpn_convs.{i}.conv.weight'] = (channels, channels, 3, 3)
        shapes[f'neck.fpn_convs.{i}.conv.bias'] = (channels,)
    shapes.update({
        'rpn_head.rpn_conv.weight': (channels, channels, 3, 3), 'rpn_head.rpn_conv.bias': (channels,),
        'rpn_head.rpn_cls.weight': (num_anchors, channels, 1, 1), 'rpn_head.rpn_cls.bias': (num_anchors,),
        'rpn_head.rpn_reg.weight': (num_anchors * 6, channels, 1, 1), 'rpn_head.rpn_reg.bias': (num_anchors * 6,),
        'roi_head.bbox_head.shared_fcs.0.weight': (fc, channels * 7 * 7), 'roi_head.bbox_head.shared_fcs.0.bias': (fc,),
        'roi_head.bbox_head.shared_fcs.1.weight': (fc, fc), 'roi_head.bbox_head.shared_fcs.1.bias': (fc,),
        'roi_head.bbox_head.fc_cls.weight': (num_classes + 1, fc), 'roi_head.bbox_head.fc_cls.bias': (num_classes + 1,),
        'roi_head.bbox_head.fc_reg.weight': (5, fc), 'roi_head.bbox_head.fc_reg.bias': (5,),
    })
    gen = torch.Generator().manual_seed(0)
    return {k: (torch.randint(0, 100, s, generator=gen) if k.endswith('num_batches_tracked')
                else torch.randn(s, generator=gen)) for k, s in shapes.items()}


def test_mmrotate_layout_state_dict_loads_strictly_after_conversion(tmp_path):
    from convzoo.converters.oriented_rcnn import convert_mmrotate_state_dict, main
    from convzoo.core.checkpoint import load_model_weights
    reference = mmrotate_layout_state_dict()
    model = build(tiny_cfg())
    for state in (reference, {f'module.{k}': v for k, v in reference.items()}):
        converted = convert_mmrotate_state_dict(state)
        model.load_state_dict(converted, strict=True)
        assert all(torch.equal(model.state_dict()[k], v) for k, v in reference.items())
    src, dst = tmp_path / 'mmrotate.pth', tmp_path / 'convzoo.pth'
    torch.save(dict(state_dict=reference, meta=dict(dataset_meta=dict(classes=('plane', 'ship', 'harbor')))), src)
    main([str(src), str(dst)])
    fresh = build(tiny_cfg())
    meta = load_model_weights(fresh, str(dst), strict=True).get('meta')
    assert meta['dataset_meta']['classes'] == ('plane', 'ship', 'harbor')
    assert torch.equal(fresh.rpn_head.rpn_reg.weight, reference['rpn_head.rpn_reg.weight'])
    horizontal = dict(reference, **{'rpn_head.rpn_reg.weight': torch.zeros(12, 16, 1, 1)})  # Faster R-CNN's RPN
    with pytest.raises(ConversionError, match='rpn_reg.weight has 12 outputs for 3 anchor scores'):
        convert_mmrotate_state_dict(horizontal)
    with pytest.raises(ConversionError, match='fc_reg.weight is missing'):
        convert_mmrotate_state_dict({k: v for k, v in reference.items() if 'fc_reg' not in k})


# --- inference: split and merge -----------------------------------------------------------------------------------

def test_predictions_survive_split_and_merge_once_each(tmp_path):
    """The demo detector runs through the rotated inference adapter on a 700 x 600 image split into 256 patches
    (gap 64). Its RPN is replaced by an oracle that proposes every object whose centre lies in the patch (found
    from the order in which patches arrive) and its box head is set to keep proposals as they are with class 0:
    rotated RoIAlign, box decoding, rotated NMS, rescaling, patch offsets and merging are the real ones."""
    from mmdet.registry import MODELS

    from convzoo.apis import Inferencer
    from convzoo.core.config import load_config
    from convzoo.tasks.rotated.inference import RotatedDetectionTask
    from convzoo.tasks.rotated.split import split_windows
    torch.manual_seed(0)
    checkpoint = tmp_path / 'random.pth'
    torch.save(dict(state_dict=MODELS.build(load_config(DEMO).model).state_dict()), checkpoint)
    infer = Inferencer(DEMO, str(checkpoint), score_thr=0.5)
    assert isinstance(infer.task, RotatedDetectionTask)
    model = infer.model
    head = model.roi_head.bbox_head
    torch.nn.init.zeros_(head.fc_reg.weight), torch.nn.init.zeros_(head.fc_reg.bias)
    torch.nn.init.zeros_(head.fc_cls.weight)
    head.fc_cls.bias.data = torch.tensor([5., -5., -5., -5., -5.])

    rng = np.random.default_rng(0)
    centres = np.array([(x, y) for x in range(50, 700, 100) for y in range(45, 600, 90)], np.float64)
    objects = regularize_le90(np.column_stack([centres + rng.uniform(-8, 8, centres.shape),
                                               rng.uniform(24, 44, len(centres)), rng.uniform(8, 20, len(centres)),
                                               rng.uniform(-HALF_PI, HALF_PI, len(centres))]))
    origins = [(int(w[0]), int(w[1])) for w in split_windows(700, 600, 256, 64)]
    pending = list(origins)

    def oracle(x, batch_data_samples, rescale=False):
        out = []
        for _ in batch_data_samples:
            x0, y0 = pending.pop(0)
            local = objects - [x0, y0, 0, 0, 0]
            inside = (local[:, 0] >= 0) & (local[:, 1] >= 0) & (local[:, 0] < 256) & (local[:, 1] < 256)
            out.append(InstanceData(bboxes=RotatedBoxes(torch.from_numpy(local[inside]).float()),
                                    scores=torch.ones(int(inside.sum())),
                                    labels=torch.zeros(int(inside.sum()), dtype=torch.long)))
        return out

    model.rpn_head.predict = oracle
    image = np.full((600, 700, 3), 90, np.uint8)
    result = infer(image, progress=False)[0]
    assert len(origins) > 4 and not pending
    found = np.array(result['bboxes'])
    assert len(found) == len(objects) and set(result['labels']) == {0}
    distance = np.linalg.norm(found[:, None, :2] - objects[None, :, :2], axis=-1)
    assert sorted(distance.argmin(1).tolist()) == list(range(len(objects)))  # each object exactly once
    assert same_rectangles(found, objects[distance.argmin(1)]) < 0.05
    assert all(len(p) == 8 for p in result['polygons'])


# --- end to end with the tools ------------------------------------------------------------------------------------

def test_demo_config_trains_and_scores_with_the_dota_metric(tmp_path, run_tool):
    import json

    from convzoo.core.embedded import ensure_embedded
    ensure_embedded('dota_objects')
    tiny = ['train_dataloader.dataset.indices=8', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=100',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False', 'randomness.seed=0']
    run_tool('tools/train.py', DEMO, '--work-dir', str(tmp_path), '--cfg-options', *tiny)
    checkpoint = (tmp_path / 'last_checkpoint').read_text().strip()
    run_tool('tools/test.py', DEMO, checkpoint, '--work-dir', str(tmp_path), '--cfg-options',
             'test_dataloader.dataset.indices=8', 'test_dataloader.num_workers=0',
             'test_dataloader.persistent_workers=False')
    metrics = json.loads((tmp_path / 'test_metrics.json').read_text())['metrics']
    assert set(metrics) == {'dota/AP50', 'dota/mAP'} and 0 <= metrics['dota/mAP'] <= 1
