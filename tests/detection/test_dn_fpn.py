"""DN-FPN: the contrastive losses against a direct transcription of the paper's double loops, their values in
closed form, batch size 1, registration of every parameter, AMP, and the detector mixin."""
import copy
import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from convzoo.converters.dn_fpn import convert_reference_state_dict
from convzoo.detectors.dn_fpn import DNFPNContrastiveLoss

CH = 16
IN_CHANNELS = (8, 16, 32, 64)
SIZES = ((32, 32), (16, 16), (8, 8), (4, 4))


def load_samples():
    path = Path(__file__).resolve().parents[1] / 'module_samples' / 'detection.py'
    spec = importlib.util.spec_from_file_location('convzoo_detection_samples', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def feats(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    backbone = [torch.randn(n, c, h, w, generator=g) for c, (h, w) in zip(IN_CHANNELS, SIZES)]
    pyramid = [torch.randn(n, CH, h, w, generator=g) for h, w in SIZES]
    return backbone, pyramid


def loss_module(**kwargs):
    torch.manual_seed(0)
    return DNFPNContrastiveLoss(in_channels=IN_CHANNELS, channels=CH, **kwargs)


def sim(u, v, tau=0.5):
    return torch.exp(F.cosine_similarity(u, v, dim=0) / tau)


def reference_losses(pyr, bb):
    """The paper's definition as nested loops over (level, image) x (level, image); pyr/bb: (L, B, D)."""
    levels, batch = pyr.shape[:2]
    geo = sem = 0.0
    for i in range(levels):
        for j in range(batch):
            q, num, den = pyr[i, j], sim(pyr[i, j], bb[i, j]), 0.0
            for k in range(levels):
                for l in range(batch):
                    if k != i and l != j:
                        den = den + sim(q, pyr[k, l]) + sim(q, bb[k, l])
            geo = geo - torch.log(num / (num + den))
    for i in range(levels - 1):
        for j in range(batch):
            q, num, den = pyr[i, j], sim(pyr[i, j], pyr[i + 1, j]), 0.0
            for k in range(levels):
                for l in range(batch):
                    if l != j:
                        den = den + sim(q, pyr[k, l]) + sim(q, bb[k, l])
            sem = sem - torch.log(num / (num + den))
    return geo, sem


@pytest.mark.parametrize('batch', [2, 3])
def test_vectorised_losses_equal_the_double_loop_definition(batch):
    module = loss_module(loss_weight=1.0)
    torch.manual_seed(batch)
    pyr, bb = torch.randn(4, batch, 32, dtype=torch.float64), torch.randn(4, batch, 32, dtype=torch.float64)
    geo, sem = reference_losses(pyr, bb)
    assert torch.allclose(module.geometric_loss(pyr, bb).double(), geo, rtol=1e-5)
    assert torch.allclose(module.semantic_loss(pyr, bb).double(), sem, rtol=1e-5)
    mean = loss_module(loss_weight=0.1, reduction='mean')
    assert torch.allclose(mean.geometric_loss(pyr, bb).double(), 0.1 * geo / (4 * batch), rtol=1e-5)
    assert torch.allclose(mean.semantic_loss(pyr, bb).double(), 0.1 * sem / (3 * batch), rtol=1e-5)


def test_identical_embeddings_give_log_one_plus_the_number_of_negatives():
    levels, batch = 4, 3
    same = torch.ones(levels, batch, 8)
    module = loss_module(loss_weight=1.0)
    geo_negatives = 2 * (levels - 1) * (batch - 1)  # P and T(C) of every other level of every other image
    sem_negatives = 2 * levels * (batch - 1)  # P and T(C) of every level of every other image
    geo, sem = module.geometric_loss(same, same), module.semantic_loss(same, same)
    assert torch.isfinite(geo) and torch.isfinite(sem)
    assert geo.item() == pytest.approx(levels * batch * math.log(1 + geo_negatives), rel=1e-6)
    assert sem.item() == pytest.approx((levels - 1) * batch * math.log(1 + sem_negatives), rel=1e-6)


def test_batch_of_one_gives_exact_zero_and_still_reaches_every_parameter():
    module = loss_module()
    backbone, pyramid = feats(1)
    losses = module(backbone, pyramid)
    assert losses['loss_dn_geo'].item() == 0.0 and losses['loss_dn_sem'].item() == 0.0
    (losses['loss_dn_geo'] + losses['loss_dn_sem']).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in module.parameters())


def test_loss_decreases_as_the_same_image_and_level_features_become_more_similar():
    """Backbone maps that equal the pyramid maps plus less and less noise (identity channel transfer)."""
    module = DNFPNContrastiveLoss(in_channels=(CH,) * 4, channels=CH, loss_weight=1.0)
    for conv in module.channel_transfer:
        torch.nn.init.dirac_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
    _, pyramid = feats(3)
    g = torch.Generator().manual_seed(1)
    noise = [torch.randn(p.shape, generator=g) for p in pyramid]
    geo = [module([p + s * n for p, n in zip(pyramid, noise)], pyramid)['loss_dn_geo'].item()
           for s in (4.0, 1.0, 0.25, 0.0)]
    assert geo == sorted(geo, reverse=True) and geo[0] > geo[-1] + 0.2, geo


def test_every_parameter_is_registered_saved_moved_and_trained():
    module = loss_module()
    keys = module.state_dict().keys()
    assert {f'channel_transfer.{i}.weight' for i in range(4)} <= set(keys)
    assert any(k.startswith('loc_E.E.0.') for k in keys) and any(k.startswith('sem_E.mlp.2.') for k in keys)
    module.to(torch.float64)
    assert all(p.dtype == torch.float64 for p in module.parameters())
    backbone, pyramid = feats(2)
    losses = module([b.double() for b in backbone], [p.double() for p in pyramid])
    (losses['loss_dn_geo'] + losses['loss_dn_sem']).backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_losses_stay_finite_under_autocast(dtype):
    module = loss_module()
    backbone, pyramid = feats(2)
    with torch.autocast('cpu', dtype=dtype):
        losses = module(backbone, [p * 1e3 for p in pyramid])  # large activations: no overflow in exp/cos
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())
    (losses['loss_dn_geo'] + losses['loss_dn_sem']).backward()
    assert all(torch.isfinite(p.grad).all() for p in module.parameters())


def test_mismatched_level_lists_are_refused():
    with pytest.raises(ValueError, match='same length'):
        DNFPNContrastiveLoss(in_channels=(512, 1024, 2048), backbone_indices=(0, 1, 2, 3))


def test_reference_checkpoint_keys_are_renamed_and_the_missing_transfer_convs_reported():
    reference = {'contrastive_loss.loc_E.E.0.weight': torch.zeros(1), 'backbone.conv1.weight': torch.zeros(1)}
    converted, missing = convert_reference_state_dict(reference)
    assert set(converted) == {'dn_fpn_loss.loc_E.E.0.weight', 'backbone.conv1.weight'}
    assert missing == ['dn_fpn_loss.channel_transfer.*']


@pytest.fixture(scope='module')
def detectors():
    """A tiny DN-FPN Faster R-CNN and the plain Faster R-CNN with the same weights."""
    samples = load_samples()
    cfg = samples.tiny_detector_cfg('faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', type='DNFPNFasterRCNN',
                                    dn_fpn_loss=samples.DN_FPN)
    torch.manual_seed(0)
    dn = MODELS.build(cfg)
    plain_cfg = copy.deepcopy(cfg)
    plain_cfg.pop('dn_fpn_loss')
    plain_cfg.type = 'FasterRCNN'
    plain = MODELS.build(plain_cfg)
    missing, unexpected = plain.load_state_dict(dn.state_dict(), strict=False)
    assert not missing and unexpected and all(k.startswith('dn_fpn_loss.') for k in unexpected)
    return samples, dn, plain


def test_detector_runs_backbone_and_neck_once_and_adds_both_losses(detectors):
    samples, dn, _ = detectors
    calls = []
    hooks = [dn.backbone.register_forward_hook(lambda *a: calls.append('backbone')),
             dn.neck.register_forward_hook(lambda *a: calls.append('neck'))]
    dn.train()
    inputs, data_samples, mode = samples.detector_loss_inputs()
    losses = dn(inputs, data_samples, mode)
    for hook in hooks:
        hook.remove()
    assert calls == ['backbone', 'neck']
    assert losses['loss_dn_geo'] > 0 and losses['loss_dn_sem'] > 0 and dn._dn_fpn_feats is None
    total = sum(v if isinstance(v, torch.Tensor) else sum(v) for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert all(p.grad is not None for p in dn.dn_fpn_loss.parameters())


def test_prediction_equals_the_plain_detector(detectors):
    samples, dn, plain = detectors
    inputs, data_samples, _ = samples.detector_loss_inputs()
    with torch.no_grad():
        a = dn.eval()(inputs, data_samples, 'predict')
        b = plain.eval()(inputs, data_samples, 'predict')
    for x, y in zip(a, b):
        assert torch.equal(x.pred_instances.bboxes, y.pred_instances.bboxes)
        assert torch.equal(x.pred_instances.scores, y.pred_instances.scores)
