"""Official-checkpoint conversion round trips, ONNX export against PyTorch, and tiled inference without seams."""
import pytest
import torch
from mmengine.registry import init_default_scope

from convzoo.converters.restoration import ConversionError, convert_deanet, convert_mirnet
from convzoo.core.checkpoint import load_weights_into
from convzoo.core.registry import MODELS
from convzoo.deploy.onnx import export_onnx, max_difference
from convzoo.restorers.dea_net import DEANet
from convzoo.restorers.mirnet import MIRNet

MIRNET_SMALL = dict(type='MIRNet', n_feat=8, n_rrg=1, n_mrb=2)
DEANET_SMALL = dict(type='DEANet', base_dim=4)


def restoration_model(generator):
    init_default_scope('convzoo')
    return MODELS.build(dict(type='RestorationModel', generator=generator)).eval()


def official_layout(net) -> dict:
    """A checkpoint as the reference's training scripts save it: DataParallel keys in 'state_dict'."""
    return {'epoch': 60, 'state_dict': {f'module.{k}': v.clone() for k, v in net.state_dict().items()}}


def test_mirnet_official_checkpoint_converts_and_loads_like_a_hand_load(perturb):
    reference = perturb(MIRNet(n_feat=8, n_rrg=1, n_mrb=2)).eval()
    official = official_layout(reference)
    conversion = convert_mirnet(official, MODELS.build(MIRNET_SMALL))
    assert not conversion.unplaced and not conversion.missing
    model = restoration_model(MIRNET_SMALL)
    load_weights_into(model, conversion.checkpoint({}), 'converted.pth', strict=True)
    by_hand = MIRNet(n_feat=8, n_rrg=1, n_mrb=2).eval()
    by_hand.load_state_dict({k[len('module.'):]: v for k, v in official['state_dict'].items()}, strict=True)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), by_hand(x))


def test_mirnet_conversion_refuses_unequal_shared_aliases_and_reports_foreign_keys():
    official = official_layout(MIRNet(n_feat=8, n_rrg=1, n_mrb=1))
    key = next(k for k in official['state_dict'] if '.blocks.0.1.body.0.weight' in k)
    official['state_dict'][key] = official['state_dict'][key] + 1
    official['state_dict']['module.extra.weight'] = torch.zeros(1)
    target = MODELS.build(dict(MIRNET_SMALL, n_mrb=1))
    with pytest.raises(ConversionError, match='share_dau_weights=False'):
        convert_mirnet(official, target)
    unshared = MODELS.build(dict(MIRNET_SMALL, n_mrb=1, share_dau_weights=False))
    conversion = convert_mirnet(official, unshared)
    assert conversion.unplaced == ['extra.weight'] and not conversion.missing


def test_deanet_training_checkpoint_converts_to_both_forms_with_equal_outputs(perturb):
    reference = perturb(DEANet(base_dim=4)).eval()
    official = {'model': reference.state_dict()}  # the reference saves {'model': ...}
    x = torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        expected = reference(x)
    for deploy in (False, True):
        target = MODELS.build(dict(DEANET_SMALL, deploy=deploy))
        conversion = convert_deanet(official, target)
        assert not conversion.unplaced and not conversion.missing
        model = restoration_model(dict(DEANET_SMALL, deploy=deploy))
        load_weights_into(model, conversion.checkpoint({}), 'converted.pth', strict=True)
        with torch.no_grad():
            assert (model(x) - expected).abs().max() < 1e-4
    deploy_layout = convert_deanet(official, MODELS.build(dict(DEANET_SMALL, deploy=True))).state_dict
    assert any(k.endswith('block1.conv1.weight') for k in deploy_layout)
    with pytest.raises(ConversionError, match='deploy layout'):
        convert_deanet(deploy_layout, MODELS.build(DEANET_SMALL))


@pytest.mark.parametrize('generator', [dict(type='ESPCN', scale=3), dict(MIRNET_SMALL, n_mrb=1), DEANET_SMALL])
def test_onnx_export_matches_pytorch(generator, tmp_path, perturb):
    net = perturb(MODELS.build(generator)).eval()
    path = str(tmp_path / 'model.onnx')
    export_onnx(net, path, height=32, width=32)
    assert max_difference(net, path, 24, 36) < 1e-4  # another size: the axes are dynamic


def test_tiled_inference_equals_whole_image_inference_without_seams(perturb):
    model = restoration_model(dict(type='ESPCN', scale=2, in_channels=3))
    perturb(model.generator)
    x = torch.rand(1, 3, 45, 61)
    with torch.no_grad():
        whole = model.restore(x)
        model.test_cfg = dict(tile=20, tile_overlap=16)  # margin 4 >= ESPCN's receptive radius (2 + 1 + 1)
        tiled = model.restore(x)
    assert tiled.shape == whole.shape == (1, 3, 90, 122)
    assert (tiled - whole).abs().max() < 1e-5
