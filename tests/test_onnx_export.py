"""ONNX export of the detectors and the DeepLab v2 segmentor, and the onnxruntime path: OnnxModel.test_step gives the
PyTorch model's detections (same count and labels, boxes within 1e-3) and label maps; the export CLI."""
import copy
import json
import math

import cv2
import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import Compose, pseudo_collate
from scipy.optimize import linear_sum_assignment
from torch import nn

from convzoo.apis import Inferencer
from convzoo.cli.common import user_message
from convzoo.cli.export import main as export_main
from convzoo.cli.infer import main as infer_main
from convzoo.core.config import load_config
from convzoo.core.errors import CheckpointError, ConfigError, SourceError
from convzoo.deploy.graph import adaptive_max_pool_by_bins
from convzoo.deploy.model_export import export_model, max_difference
from convzoo.deploy.onnx import export_onnx
from convzoo.deploy.onnx_runtime import OnnxModel
from convzoo.layers import deform

SEPC_LITE = 'configs/sepc/demo/sepc_lite_retinanet_demo.py'
DETECTORS = {  # config, side of the square test image (the test pipeline's scale: no extra padding)
    'sepc-lite': (SEPC_LITE, 160),
    'rcnet': ('configs/rcnet/demo/rcnet_retinanet_demo.py', 160),
    'ssd': ('configs/ssd/demo/ssdlite_mobilenetv2_demo.py', 160),
    'rotated-arc': ('configs/arc/demo/arc_rotated_retinanet_r50_fpn_1x_dota_le90_demo.py', 256),
}
CLASSES = ('a', 'b', 'c', 'd')
DEEPLAB = 'configs/deeplab_v2/demo/deeplabv2_aspp-l_r101_cityscapes_demo.py'


def scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A BGR image with a few filled shapes on a gradient: structure for the random networks to respond to."""
    rng = np.random.default_rng(seed)
    image = np.linspace(40, 200, width, dtype=np.float32)[None, :, None].repeat(height, 0).repeat(3, 2)
    image = (image + rng.normal(0, 8, image.shape)).clip(0, 255).astype(np.uint8)
    for _ in range(6):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.circle(image, centre, int(rng.integers(6, min(height, width) // 4)), colour, -1)
    return image


def packed(cfg, image: np.ndarray) -> dict:
    """A batch of one image through the config's test pipeline, as the Inferencer packs it."""
    scope = cfg.get('default_scope', 'mmdet')
    steps = [t for t in copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
             if t['type'] not in ('LoadAnnotations', 'CheckSegSample')]
    steps[0] = dict(type=f'{scope}.LoadImageFromNDArray')
    return pseudo_collate([Compose(steps)(dict(img=image, img_id=0))])


def classifier_convs(head) -> list[nn.Conv2d]:
    if hasattr(head, 'retina_cls'):
        return [head.retina_cls]
    return [branch[-1] if isinstance(branch, nn.Sequential) else branch for branch in head.cls_convs]


def class_logits(model, cfg, image) -> list[torch.Tensor]:
    with torch.no_grad():
        return model(model.data_preprocessor(packed(cfg, image), False)['inputs'], mode='tensor')[0]


def top_value(values: torch.Tensor, count: int = 20) -> torch.Tensor:
    return values.flatten().topk(count).values[-1]


def calibrate(model, cfg, image) -> None:
    """Random weights that detect a few things. The classifier's weights are scaled to logits of unit spread
    within each channel (at init they spread over 1e-4, where onnxruntime's rounding could reorder them); then, as
    tests/conftest.py does, the class bias is set so that about 20 (anchor, class) scores pass the config's
    score_thr, fewer than max_per_img: the detections compared are not cut at a rank where near-equal scores could
    swap."""
    head, threshold = model.bbox_head, model.bbox_head.test_cfg['score_thr']
    convs = classifier_convs(head)
    levels = class_logits(model, cfg, image)
    per_level = convs if len(convs) == len(levels) else convs * len(levels)  # SSD: one classifier per level
    spread = torch.cat([(level - conv.bias.view(-1, 1, 1)).flatten() for level, conv in zip(levels, per_level)]).std()
    for conv in convs:
        conv.weight.data /= spread
    levels = class_logits(model, cfg, image)
    if head.use_sigmoid_cls:
        shift = top_value(torch.cat([level.flatten() for level in levels])) - math.log(threshold / (1 - threshold))
        for conv in convs:
            conv.bias.data -= shift - 1e-3
        return
    # softmax: a class scores about exp(class logit - background logit - shift) when the background dominates
    classes = head.cls_out_channels
    per_anchor = [level.reshape(-1, classes, *level.shape[-2:]) for level in levels]
    shift = top_value(torch.cat([(level[:, :-1] - level[:, -1:]).flatten() for level in per_anchor]))
    for conv in convs:
        conv.bias.data.view(-1, classes)[:, -1] += shift - math.log(threshold) - 0.1


def calibrate_with_mmcv_deformable_convs(model, cfg, image) -> None:
    """:func:`calibrate`, then mmcv's compiled deformable conv asked for (SEPC, RCNet): the export must put the
    torch one in its place, as mmcv's would be a custom node onnxruntime rejects."""
    calibrate(model, cfg, image)
    for module in model.modules():
        if hasattr(module, 'dcn_impl'):
            module.dcn_impl = 'mmcv'


def spread_classes(model, cfg, image) -> None:
    """DeepLab's random classifiers (each ASPP branch's fc8) scaled to logits of unit spread, biases zeroed: at
    init one class wins everywhere."""
    classifiers = [branch[-1] for branch in model.decode_head.branches]
    with torch.no_grad():
        logits = model(model.data_preprocessor(packed(cfg, image), False)['inputs'], mode='tensor')
    spread = (logits - sum(c.bias for c in classifiers).view(-1, 1, 1)).std()
    for conv in classifiers:
        conv.weight.data /= spread
        conv.bias.data.zero_()


def random_checkpoint(config: str, tmp_path, image=None, prepare=None):
    """The config's model with seeded random weights (``prepare`` edits them), saved as ``model.pth`` with class
    names and loaded back strictly, as the export command loads it; (cfg, model)."""
    from convzoo.apis.adapters import task_for
    from convzoo.core.checkpoint import load_model_weights
    cfg = load_config(config)
    torch.manual_seed(0)
    model = task_for(cfg).build_model().eval()
    if prepare is not None:
        prepare(model, cfg, image)
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': {'classes': CLASSES}}},
               tmp_path / 'model.pth')
    load_model_weights(model, str(tmp_path / 'model.pth'), strict=True)
    return cfg, model


def build(config: str, tmp_path, image=None, prepare=None):
    """:func:`random_checkpoint`, exported to ONNX; (cfg, model, OnnxModel, metadata)."""
    cfg, model = random_checkpoint(config, tmp_path, image, prepare)
    path = str(tmp_path / 'model.onnx')
    meta = export_model(model, cfg, path, CLASSES, config=config)
    return cfg, model, OnnxModel(path), meta


def match_detections(expected, got) -> None:
    """Same count, and a one-to-one matching of equal labels whose boxes (and scores) agree."""
    boxes = [torch.as_tensor(getattr(d.bboxes, 'tensor', d.bboxes)) for d in (expected, got)]
    assert len(boxes[0]) == len(boxes[1]) > 0
    cost = (boxes[0][:, None] - boxes[1][None]).abs().amax(-1)
    cost = cost + 1e6 * (expected.labels[:, None] != got.labels[None])
    rows, cols = linear_sum_assignment(cost.numpy())
    assert cost[rows, cols].max() < 1e-3
    assert (expected.scores[rows] - got.scores[cols]).abs().max() < 1e-5


@pytest.mark.parametrize('name', DETECTORS)
def test_onnxruntime_detections_equal_pytorch_test_step(name, tmp_path):
    config, side = DETECTORS[name]
    image = scene(side, side)
    cfg, model, onnx_model, meta = build(config, tmp_path, image, calibrate_with_mmcv_deformable_convs)
    assert meta['input']['shape'] == [1, 3, side, side]  # from the test pipeline's Resize and pad divisor
    assert {node.domain for node in onnx.load(onnx_model.path).graph.node} <= {'', 'ai.onnx'}  # standard ops only
    assert max_difference(model, onnx_model.path, meta) < 1e-4
    with torch.no_grad():
        expected = model.test_step(packed(cfg, image))[0].pred_instances
    got = onnx_model.test_step(packed(cfg, image))[0].pred_instances
    assert type(got.bboxes) is type(expected.bboxes) is torch.Tensor  # rotated ones too, as mmdet's detectors
    match_detections(expected, got)
    assert 3 <= len(expected.scores) < model.bbox_head.test_cfg['max_per_img']  # see calibrate()
    assert onnx_model.dataset_meta['classes'] == CLASSES


def test_onnxruntime_segmentation_label_map_equals_pytorch_and_refuses_larger_images(tmp_path):
    image = scene(256, 512)  # resized to 128 x 256 by the test pipeline: the ONNX input
    cfg, model, onnx_model, meta = build(DEEPLAB, tmp_path, image, spread_classes)
    assert meta['input']['shape'] == [1, 3, 128, 256] and meta['outputs'] == ['seg_logits']
    with torch.no_grad():
        expected = model.test_step(packed(cfg, image))[0]
    got = onnx_model.test_step(packed(cfg, image))[0]
    assert got.pred_sem_seg.data.shape == expected.pred_sem_seg.data.shape == (1, 256, 512)
    assert (got.seg_logits.data - expected.seg_logits.data).abs().max() < 1e-4
    differ = got.pred_sem_seg.data != expected.pred_sem_seg.data
    # a pixel may only differ where PyTorch's two best classes tie to within the outputs' rounding
    top2 = expected.seg_logits.data.topk(2, dim=0).values
    assert differ.sum() <= 5 and ((top2[0] - top2[1])[differ[0]] < 1e-4).all()
    assert len(expected.pred_sem_seg.data.unique()) > 1
    portrait = packed(cfg, scene(512, 256))  # 256 x 128 after Resize: larger than the 128 x 256 input
    with pytest.raises(SourceError, match='model.onnx.*does not fit the ONNX input of 128x256'):
        onnx_model.test_step(portrait)


def test_onnx_model_refuses_a_file_that_is_not_an_exported_detector(tmp_path):
    (tmp_path / 'notes.onnx').write_text('not a model')
    with pytest.raises(ConfigError, match='notes.onnx: onnxruntime cannot load it'):
        OnnxModel(str(tmp_path / 'notes.onnx'))
    export_onnx(nn.Conv2d(3, 3, 1), str(tmp_path / 'restoration.onnx'), height=8, width=8)
    with pytest.raises(ConfigError, match='restoration.onnx: not a detector or segmentor'):
        OnnxModel(str(tmp_path / 'restoration.onnx'))


def test_export_gather_equals_embedding_bag():
    generator = torch.Generator().manual_seed(0)
    table = torch.randn(50, 16, generator=generator)
    rows = torch.randint(0, 50, (7, 3, 4), generator=generator, dtype=torch.int32)
    weights = torch.rand(7, 3, 4, generator=generator)
    bag = F.embedding_bag(rows.reshape(-1, 4), table, mode='sum', per_sample_weights=weights.reshape(-1, 4))
    assert torch.allclose(deform._gather_for_export(table, rows, weights), bag, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('size,out', [((10, 10), (3, 3)), ((7, 5), (2, 4)), ((8, 8), (4, 4)), ((5, 6), (5, 1))])
def test_adaptive_max_pool_by_bins_equals_pytorch(size, out):
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(1))
    assert torch.equal(adaptive_max_pool_by_bins(x, out), F.adaptive_max_pool2d(x, out))


def test_cli_exports_a_detector_with_its_postprocessing_metadata(tmp_path, capsys):
    random_checkpoint(SEPC_LITE, tmp_path, scene(160, 160), calibrate)
    out = tmp_path / 'cli.onnx'
    assert export_main([SEPC_LITE, str(tmp_path / 'model.pth'), str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'input 1x3x160x160' in printed and 'max |difference| =' in printed
    meta = json.loads({p.key: p.value for p in onnx.load(str(out)).metadata_props}['convzoo'])
    assert meta['classes'] == ['a', 'b', 'c', 'd']  # from the checkpoint's dataset_meta
    assert meta['head']['test_cfg']['nms']['iou_threshold'] == 0.5 and meta['head']['test_cfg']['max_per_img'] == 50
    assert meta['input']['bgr_to_rgb'] and meta['input']['mean'] == pytest.approx([123.675, 116.28, 103.53])
    assert not list(tmp_path.glob('.cli.onnx.*'))  # no temporary file left beside it
    # the Inferencer's onnx= option: the file's OnnxModel in the PyTorch model's place, class names from its metadata
    image = scene(160, 160)
    reference = Inferencer(SEPC_LITE, str(tmp_path / 'model.pth'), score_thr=0.05)(image, progress=False)[0]
    infer = Inferencer(SEPC_LITE, onnx=str(out), score_thr=0.05)
    assert isinstance(infer.model, OnnxModel) and infer.task.classes == ('a', 'b', 'c', 'd')
    got = infer(image, progress=False)[0]
    assert got.keys() == reference.keys() and len(got['scores']) >= 3
    for key, value in reference.items():
        numeric = isinstance(value, list) and value and not isinstance(value[0], str)
        assert np.allclose(got[key], value, atol=1e-3) if numeric else got[key] == value, key
    # `convzoo infer CONFIG model.onnx IMAGE` takes the same path
    cv2.imwrite(str(tmp_path / 'scene.png'), image)
    assert infer_main([SEPC_LITE, str(out), str(tmp_path / 'scene.png'), '--out-dir', str(tmp_path / 'vis'),
                       '--score-thr', '0.05']) == 0
    written = json.loads((tmp_path / 'vis' / 'scene.json').read_text())
    assert written['label_names'] == [reference['label_names'][i] for i, s in enumerate(reference['scores'])
                                      if s >= 0.05]


def test_cli_refuses_a_bad_config_and_a_checkpoint_of_another_model(tmp_path):
    random_checkpoint(SEPC_LITE, tmp_path)
    with pytest.raises(ConfigError) as err:
        export_main([str(tmp_path / 'model.pth'), str(tmp_path / 'out.onnx')])
    assert 'model.pth' in user_message(err.value) and '\n' not in user_message(err.value)
    with pytest.raises(CheckpointError) as err:
        export_main(['configs/ssd/demo/ssdlite_mobilenetv2_demo.py', str(tmp_path / 'model.pth'),
                     str(tmp_path / 'out.onnx')])
    assert 'model.pth' in user_message(err.value) and 'another model' in user_message(err.value)
    assert not (tmp_path / 'out.onnx').exists()


def test_tool_prints_one_error_line_for_a_missing_checkpoint(run_tool, tmp_path):
    proc = run_tool('tools/export_onnx.py', SEPC_LITE, str(tmp_path / 'missing.pth'), str(tmp_path / 'x.onnx'),
                    check=False)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'missing.pth' in errors[0], proc.stderr
