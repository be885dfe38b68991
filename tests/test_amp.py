"""Mixed precision on the CPU: every registered convzoo module (the registry sweep's samples) runs forward and
backward under ``torch.autocast('cpu', dtype=...)`` for float16 and bfloat16 with finite outputs and gradients, and
the SEPC-lite demo detector's losses are finite under both. The functions are tools/gpu_check.py's, which runs the
same on CUDA (row "modules AMP")."""
import sys
from pathlib import Path

import pytest
import torch

TOOLS = str(Path(__file__).resolve().parents[1] / 'tools')
sys.path.insert(0, TOOLS)  # tools/ is no package; only for this import (its script names would shadow others)
try:
    import gpu_check
finally:
    sys.path.remove(TOOLS)

SWEEP = gpu_check.load_file('tests/test_registered_modules.py', 'convzoo_amp_sweep')


def _cpu_backend_for(dtype: str):
    """oneDNN's bfloat16 convolution weight gradient on the CPU (torch 2.13) returns NaN at random for a 3x3 stride-2
    conv on a 1x1 map (FPN's P7 of a tiny image; conv2d alone shows it). That is torch's bug, not a module's, so
    bfloat16 runs PyTorch's own CPU convolution; float16 keeps oneDNN."""
    return torch.backends.mkldnn.flags(enabled=dtype != 'bfloat16')


@pytest.mark.parametrize('dtype', gpu_check.AMP_DTYPES)
@pytest.mark.parametrize('name', sorted(SWEEP.SAMPLES))
def test_module_under_autocast(name, dtype):
    with _cpu_backend_for(dtype):
        gpu_check.run_sample(SWEEP, name, 'cpu', dtype)


@pytest.mark.parametrize('dtype', gpu_check.AMP_DTYPES)
def test_demo_detector_losses_are_finite_under_autocast(dtype):
    with _cpu_backend_for(dtype):
        losses = gpu_check.demo_detector_losses('cpu', dtype)
    assert {'loss_cls', 'loss_bbox'} <= set(losses) and losses['loss'] > 0


def test_deformable_conv_follows_autocast_and_samples_in_float32():
    """Under autocast the deformable conv's product runs in the low dtype as a dense conv's would (close to float32's
    result, not equal); its sampling coordinates stay float32 whatever the offsets' dtype: half-pixel offsets at
    x > 128, where bfloat16 cannot hold x.5, sample exactly as the float32 offsets do."""
    from convzoo.layers.deform import deform_conv2d_any_size
    g = torch.Generator().manual_seed(0)
    x, weight = torch.randn(1, 8, 5, 300, generator=g), torch.randn(8, 8, 3, 3, generator=g) / 9
    offset = torch.full((1, 18, 5, 300), 0.5)
    reference = deform_conv2d_any_size(x, offset, weight, padding=1)
    assert torch.equal(deform_conv2d_any_size(x, offset.bfloat16(), weight, padding=1), reference)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        low = deform_conv2d_any_size(x, offset.bfloat16(), weight, padding=1)
    assert low.dtype == torch.bfloat16
    assert 0 < (low.float() - reference).abs().max() / reference.abs().max() < 2e-2


@pytest.mark.parametrize('dtype', gpu_check.AMP_DTYPES)
@pytest.mark.parametrize('config', ['configs/dn_fpn/demo/faster_rcnn_baseline_tiny_demo.py',
                                    'configs/dn_fpn/demo/dn_fpn_faster_rcnn_tiny_demo.py'])
def test_two_stage_detectors_predict_under_autocast(config, dtype):
    """mmdet's own Faster R-CNN (and DN-FPN on it) predicts under CPU autocast: mmcv's NMS and RoIAlign, which have
    float32 CPU kernels only, run such inputs in float32 (convzoo.core.mmcv_dtypes, installed by import convzoo)."""
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmengine.registry import init_default_scope

    from convzoo.core.config import load_config
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(load_config(config).model).eval()
    meta = dict(img_shape=(128, 128), ori_shape=(128, 128), scale_factor=(1.0, 1.0))
    pixels = torch.randint(0, 256, (3, 128, 128), dtype=torch.uint8)
    data = model.data_preprocessor(dict(inputs=[pixels], data_samples=[DetDataSample(metainfo=meta)]), False)
    with torch.no_grad(), _cpu_backend_for(dtype), torch.autocast('cpu', dtype=getattr(torch, dtype)):
        found = model(**data, mode='predict')[0].pred_instances
    assert len(found) > 0 and torch.isfinite(found.bboxes.float()).all() and torch.isfinite(found.scores.float()).all()
