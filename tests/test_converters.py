"""Official-checkpoint converters: RCNet (official RCFPN key layout), DEA-Net (released deployed layout and the
training layout), the ``--sha256`` check every converter has, and the command lines (``convzoo convert``,
``python -m convzoo.converters.<name>``).

The official layouts are written out here from the authors' module structures (TempleX98/RCNet
``mmdet/models/necks/rcfpn.py``; cecret3350/DEA-Net ``code/model/backbone.py`` and ``backbone_train.py``), not
derived from convzoo's modules, so a wrong mapping cannot agree with itself.
"""
import hashlib
import logging
import subprocess
import sys

import pytest
import torch
from mmengine.logging import MMLogger

from convzoo.converters.rcnet import convert_neck_state_dict
from convzoo.core.checkpoint import load_model_weights
from convzoo.core.errors import ConversionError
from convzoo.necks.rcnet import RCNet

C = 32  # neck width: C // 16 = 2 channels per shifted group
IN_CHANNELS = (8, 16, 32)
DEMO_RCNET = 'configs/rcnet/demo/rcnet_retinanet_demo.py'


def conv_module_bn(prefix: str, channels: int) -> dict:
    """The BN of an mmcv ConvModule (named ``bn``): affine parameters and running statistics."""
    return {f'{prefix}.bn.{name}': (channels,) for name in ('weight', 'bias', 'running_mean', 'running_var')} | \
        {f'{prefix}.bn.num_batches_tracked': ()}


def dcnv2_conv_module(prefix: str, channels: int) -> dict:
    """ConvModule(conv_cfg=DCNv2 with 2 deform groups, BN): no conv bias; the offset/mask conv has 3*2*9 outputs."""
    return {f'{prefix}.conv.weight': (channels, channels, 3, 3), f'{prefix}.conv.conv_offset.weight':
            (54, channels, 3, 3), f'{prefix}.conv.conv_offset.bias': (54,)} | conv_module_bn(prefix, channels)


def official_rcfpn_shapes(in_channels=IN_CHANNELS, c=C) -> dict:
    """Every key of the official ``RCFPN(norm_cfg=BN)`` with its shape, in its state_dict order."""
    shapes = {}
    for i, cin in enumerate(in_channels):
        shapes |= {f'lateral_convs.{i}.conv.weight': (c, cin, 1, 1)} | conv_module_bn(f'lateral_convs.{i}', c)
    for i in range(2):  # nn.Sequential(ConvModule 1x1, MaxPool2d)
        shapes |= {f'extra_downsamples.{i}.0.conv.weight': (c, c, 1, 1)} | conv_module_bn(f'extra_downsamples.{i}.0', c)
    for level, op_num, attention in (('p7', 2, False), ('p6', 3, True), ('p5', 3, True), ('p4', 3, True),
                                     ('p3', 2, True)):  # the ModuleDict is filled from p7 down
        node = f'RevFP.{level}'
        shapes |= {f'{node}.temp': (1,)} if attention else {}
        for j in range(op_num - 1):  # the gates: Conv2d(2C -> 1, 1x1)
            shapes |= {f'{node}.weight.{j}.weight': (1, 2 * c, 1, 1), f'{node}.weight.{j}.bias': (1,)}
        if attention:
            shapes |= {f'{node}.spatial_weight.weight': (1, 2 * c, 3, 3), f'{node}.spatial_weight.bias': (1,)}
        shapes |= dcnv2_conv_module(f'{node}.post_fusion', c)
        shapes |= dcnv2_conv_module(f'{node}.pre_fusion', c) if op_num == 3 else {}
    for branch in ('spatialContext', 'scaleContext'):
        shapes |= {f'CSN.{branch}.channel_agg.weight': (1, c, 1, 1), f'CSN.{branch}.channel_agg.bias': (1,),
                   f'CSN.{branch}.trans.weight': (c, c, 1, 1), f'CSN.{branch}.trans.bias': (c,)}
    for i in range(5):  # Sequential(ConvModule(C + 4 * C // 16 -> C, BN, ReLU), Conv2d(C -> C))
        mixer = f'CSN.msm.aggregation.{i}'
        shapes |= {f'{mixer}.0.conv.weight': (c, c + 4 * c // 16, 1, 1)} | conv_module_bn(f'{mixer}.0', c)
        shapes |= {f'{mixer}.1.weight': (c, c, 1, 1), f'{mixer}.1.bias': (c,)}
    return shapes


def random_state(shapes: dict, seed: int = 0, scale: float = 1.0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randint(0, 9, s, generator=gen) if k.endswith('num_batches_tracked') else
            scale * torch.randn(s, generator=gen) for k, s in shapes.items()}


def test_every_official_rcfpn_key_maps_by_name_and_loads_strictly():
    official = random_state(official_rcfpn_shapes())
    # counted by hand: laterals 3 x 6, extra 2 x 6, nodes p7 2 + 8, p6-p4 3 x (1 + 4 + 2 + 16), p3 1 + 2 + 2 + 8
    # (a DCNv2 ConvModule has 8 keys), contexts 2 x 4, mixers 5 x 8
    assert len(official) == 18 + 12 + 10 + 69 + 13 + 8 + 40
    converted = convert_neck_state_dict(official)
    assert len(converted) == len(official)
    neck = RCNet(in_channels=list(IN_CHANNELS), out_channels=C, start_level=0, norm_cfg=dict(type='BN'))
    neck.load_state_dict(converted, strict=True)
    assert set(converted) == set(neck.state_dict())
    same = {  # the node order follows the level names, not the ModuleDict's p7-first order
        'rev_fp.0.attention.temperature': 'RevFP.p3.temp',
        'rev_fp.0.gate.conv.weight': 'RevFP.p3.weight.0.weight',
        'rev_fp.4.gate.conv.bias': 'RevFP.p7.weight.0.bias',
        'rev_fp.2.lower_gate.conv.weight': 'RevFP.p5.weight.1.weight',
        'rev_fp.3.attention.conv.weight': 'RevFP.p6.spatial_weight.weight',
        'rev_fp.1.pre_fusion.conv.conv_offset.weight': 'RevFP.p4.pre_fusion.conv.conv_offset.weight',
        'extra_levels.1.bn.running_var': 'extra_downsamples.1.0.bn.running_var',
        'csn.scale_context.attention.weight': 'CSN.scaleContext.channel_agg.weight',
        'csn.spatial_context.transform.bias': 'CSN.spatialContext.trans.bias',
        'csn.scale_shift.level_mixers.4.0.conv.weight': 'CSN.msm.aggregation.4.0.conv.weight',
    }
    for ours, theirs in same.items():
        assert converted[ours] is official[theirs], ours
    assert neck.rev_fp[4].attention is None and neck.rev_fp[0].lower_gate is None


def test_keys_of_another_neck_are_refused_by_name():
    official = random_state(official_rcfpn_shapes())
    official['fpn_convs.0.conv.weight'] = torch.zeros(C, C, 3, 3)
    with pytest.raises(ConversionError, match=r'1 neck key\(s\) are not RCFPN weights: fpn_convs.0.conv.weight'):
        convert_neck_state_dict(official)


def official_detector_checkpoint(path) -> dict:
    """An mmdet 2.10 RetinaNet + RCFPN checkpoint for the demo's sizes: backbone and head keep mmdet's names, the
    neck is written in the official layout; mmcv 1.x's meta with the class names."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    from convzoo.core.config import load_config
    init_default_scope('mmdet')
    detector = MODELS.build(load_config(DEMO_RCNET).model).state_dict()
    neck = random_state(official_rcfpn_shapes(in_channels=(32, 64, 128), c=64), seed=1)
    state = {k: v for k, v in detector.items() if not k.startswith('neck.')} | {f'neck.{k}': v for k, v in neck.items()}
    torch.save({'meta': {'mmdet_version': '2.10.0', 'CLASSES': ('disc', 'rectangle', 'triangle'), 'epoch': 12},
                'state_dict': state}, path)
    return neck


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_rcnet_detector_checkpoint_converts_checks_its_digest_and_loads_into_the_config(tmp_path, capsys):
    from convzoo.converters.rcnet import main
    src, dst = tmp_path / 'retinanet_r50_rcfpn_epoch_12.pth', tmp_path / 'out' / 'rcnet.pth'
    neck = official_detector_checkpoint(src)
    main([str(src), str(dst), '--sha256', sha256(src).upper(), '--config', DEMO_RCNET])
    printed = capsys.readouterr().out
    assert f'sha256 {sha256(src)}  {src}' in printed and 'loads strictly into the model' in printed
    from mmdet.registry import MODELS

    from convzoo.core.config import load_config
    model = MODELS.build(load_config(DEMO_RCNET).model)
    checkpoint = load_model_weights(model, str(dst), strict=True)
    assert checkpoint['meta']['dataset_meta'] == {'classes': ('disc', 'rectangle', 'triangle')}
    assert checkpoint['meta']['source_sha256'] == sha256(src)
    assert torch.equal(model.neck.rev_fp[4].post_fusion.conv.weight, neck['RevFP.p7.post_fusion.conv.weight'])
    assert [p.name for p in dst.parent.iterdir()] == ['rcnet.pth']  # the temporary file was renamed


def test_official_config_add_extra_convs_on_input_is_accepted_ignored_and_logged():
    logged = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        torch.manual_seed(0)
        with_option = RCNet(in_channels=list(IN_CHANNELS), out_channels=C, start_level=0, add_extra_convs='on_input',
                            out_conv_cfg=dict(type='Conv2d'))
        torch.manual_seed(0)
        without = RCNet(in_channels=list(IN_CHANNELS), out_channels=C, start_level=0, out_conv_cfg=dict(type='Conv2d'))
    finally:
        logger.removeHandler(handler)
    assert [m for m in logged if 'add_extra_convs' in m] == [
        "RCNet: add_extra_convs='on_input' is ignored, as in the official RCFPN: P6/P7 come from a 1x1 conv and "
        'max-pooling, not from extra convs']
    assert list(with_option.state_dict()) == list(without.state_dict())
    inputs = [torch.randn(1, c, s, s) for c, s in zip(IN_CHANNELS, (16, 8, 4), strict=True)]
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(with_option(inputs), without(inputs), strict=True))
    with pytest.raises(ValueError, match="add_extra_convs='on_top'"):
        RCNet(in_channels=list(IN_CHANNELS), out_channels=C, start_level=0, add_extra_convs='on_top')


# DEA-Net, base width 32 (the paper config's network)
DEBLOCKS = [f'{side}_level{level}_block{i}' for level in (1, 2) for side in ('down', 'up') for i in range(1, 5)]


def deanet_block_conv1(prefix: str, c: int, deployed: bool) -> dict:
    """A block's ``conv1``: one merged 3x3 conv (deployed) or the five DEConv branches (training; HD/VD are Conv1d)."""
    if deployed:
        return {f'{prefix}.conv1.weight': (c, c, 3, 3), f'{prefix}.conv1.bias': (c,)}
    kernels = {'conv1_1.conv': (c, c, 3, 3), 'conv1_2.conv': (c, c, 3), 'conv1_3.conv': (c, c, 3),
               'conv1_4.conv': (c, c, 3, 3), 'conv1_5': (c, c, 3, 3)}
    return {k: s for branch, shape in kernels.items() for k, s in
            ((f'{prefix}.conv1.{branch}.weight', shape), (f'{prefix}.conv1.{branch}.bias', (c,)))}


def cga(prefix: str, c: int, reduction: int) -> dict:
    """SpatialAttention ``sa.sa``, ChannelAttention ``ca.ca.{0,2}``, PixelAttention ``pa.pa2`` (grouped 7x7)."""
    return {f'{prefix}.sa.sa.weight': (1, 2, 7, 7), f'{prefix}.sa.sa.bias': (1,),
            f'{prefix}.ca.ca.0.weight': (c // reduction, c, 1, 1), f'{prefix}.ca.ca.0.bias': (c // reduction,),
            f'{prefix}.ca.ca.2.weight': (c, c // reduction, 1, 1), f'{prefix}.ca.ca.2.bias': (c,),
            f'{prefix}.pa.pa2.weight': (c, 2, 7, 7), f'{prefix}.pa.pa2.bias': (c,)}


def official_deanet_shapes(deployed: bool, base: int = 32) -> dict:
    """Every key of the official ``Backbone`` (deployed) or ``DEANet`` (training) with its shape."""
    convs = {  # name: (weight shape, bias length); the ConvTranspose2d weights are (in, out, 3, 3)
        'down1.0': ((base, 3, 3, 3), base), 'down2.0': ((2 * base, base, 3, 3), 2 * base),
        'down3.0': ((4 * base, 2 * base, 3, 3), 4 * base), 'fe_level_2': ((2 * base, 2 * base, 3, 3), 2 * base),
        'fe_level_3': ((4 * base, 4 * base, 3, 3), 4 * base), 'up1.0': ((4 * base, 2 * base, 3, 3), 2 * base),
        'up2.0': ((2 * base, base, 3, 3), base), 'up3.0': ((3, base, 3, 3), 3),
        'mix1.conv': ((4 * base, 4 * base, 1, 1), 4 * base), 'mix2.conv': ((2 * base, 2 * base, 1, 1), 2 * base)}
    shapes = {k: s for name, (weight, bias) in convs.items() for k, s in
              ((f'{name}.weight', weight), (f'{name}.bias', (bias,)))}
    blocks = [(name, base * (1 if 'level1' in name else 2)) for name in DEBLOCKS]
    blocks += [(f'level3_block{i}', 4 * base) for i in range(1, 9)]
    for name, c in blocks:
        shapes |= deanet_block_conv1(name, c, deployed)
        shapes |= {f'{name}.conv2.weight': (c, c, 3, 3), f'{name}.conv2.bias': (c,)}
        shapes |= cga(name, c, 8) if name.startswith('level3') else {}
    return shapes | cga('mix1', 4 * base, 8) | cga('mix2', 2 * base, 4)


def run_convert(argv, capsys) -> tuple[int, str, str]:
    """``convzoo convert ...`` in this process: (exit status, stdout, stderr)."""
    from convzoo.cli.main import main
    with pytest.raises(SystemExit) as stop:
        main(['convert', *argv])
    out, err = capsys.readouterr()
    return stop.value.code, out, err


def test_released_deanet_weights_deployed_layout_become_a_deploy_checkpoint(tmp_path, capsys):
    from convzoo.core.config import load_config
    from convzoo.core.registry import MODELS
    released = random_state(official_deanet_shapes(deployed=True))
    src, dst = tmp_path / 'PSNR4131_SSIM9945.pth', tmp_path / 'deanet_its_deploy.pth'
    torch.save(released, src)  # the release is a bare state dict (eval.py: network.load_state_dict(torch.load(...)))
    status, out, err = run_convert(['deanet', str(src), str(dst)], capsys)
    assert status == 0, err
    assert 'deployed (re-parameterised) layout' in out and 'model.generator.deploy=True' in out
    cfg = load_config('configs/dea_net/deanet_its.py', {'model.generator.deploy': True})
    cfg.model.contrast_loss = None  # the VGG19 file is not needed to load the generator
    model = MODELS.build(cfg.model)
    meta = load_model_weights(model, str(dst), strict=True)['meta']
    assert meta['deploy'] is True and meta['source_sha256'] == sha256(src)
    for key in ('level3_block8.conv1.weight', 'up1.0.weight', 'mix2.pa.pa2.bias'):
        assert torch.equal(model.generator.state_dict()[key], released[key])


def test_deanet_training_layout_gives_the_training_model_or_the_folded_deploy_form(tmp_path, capsys):
    from convzoo.restorers.dea_net import DEANet
    trained = random_state(official_deanet_shapes(deployed=False), scale=0.05)  # activations stay finite
    src = tmp_path / '300.pk'
    torch.save({'epoch': 300, 'step': 1500000, 'max_psnr': 41.31, 'psnrs': [40.9, 41.31], 'model': trained}, src)
    status, out, err = run_convert(['deanet', str(src), str(tmp_path / 'train.pth')], capsys)
    assert status == 0 and 'training layout' in out, err
    status, out, err = run_convert(['deanet', str(src), str(tmp_path / 'deploy.pth'), '--deploy'], capsys)
    assert status == 0, err
    train_net, deploy_net = DEANet(base_dim=32).eval(), DEANet(base_dim=32, deploy=True).eval()
    for net, name in ((train_net, 'train.pth'), (deploy_net, 'deploy.pth')):
        state = torch.load(tmp_path / name, weights_only=True)['state_dict']
        net.load_state_dict({k[len('generator.'):]: v for k, v in state.items()}, strict=True)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        expected, folded = train_net(x), deploy_net(x)
    assert expected.isfinite().all() and expected.abs().max() > 0
    assert float((folded - expected).abs().max()) < 1e-4 * float(expected.abs().max())


@pytest.mark.parametrize('damage, message', [
    ('mix', 'mixes both DEA-Net layouts'),
    ('foreign', 'is not a DEA-Net checkpoint'),
])
def test_deanet_files_of_neither_layout_are_refused_with_one_error_line(tmp_path, capsys, damage, message):
    state = random_state(official_deanet_shapes(deployed=True))
    if damage == 'mix':
        state |= random_state(deanet_block_conv1('up_level1_block4', 32, deployed=False))
    else:
        state = {k.replace('conv1.', 'conv0.'): v for k, v in state.items()}
    src, dst = tmp_path / 'weights.pth', tmp_path / 'out.pth'
    torch.save(state, src)
    status, _, err = run_convert(['deanet', str(src), str(dst)], capsys)
    assert status == 1 and err.count('\n') == 1 and err.startswith(f'error: {src}: ') and message in err
    assert not dst.exists()


@pytest.mark.parametrize('model', ['rcnet', 'deanet', 'mirnet', 'arc', 'oriented_rcnn', 'dn_fpn'])
def test_every_converter_refuses_a_source_whose_sha256_differs_before_reading_it(tmp_path, capsys, model):
    src, dst = tmp_path / 'download.pth', tmp_path / 'out.pth'
    src.write_bytes(b'not even a checkpoint')  # the digest is checked before anything is unpickled
    wanted = '0' * 64
    status, out, err = run_convert([model, str(src), str(dst), '--sha256', wanted], capsys)
    assert status == 1 and err.count('\n') == 1, err
    assert err == f'error: {src}: sha256 mismatch: the file has {sha256(src)}, --sha256 expects {wanted} (a ' \
                  'different release, or a damaged download); nothing written\n'
    assert f'sha256 {sha256(src)}  {src}' in out and not dst.exists()
    status, _, err = run_convert([model, str(src), str(dst), '--sha256', 'abc'], capsys)
    assert status == 2 and "'abc' is not a sha256 digest (64 hexadecimal digits)" in err


@pytest.mark.e2e
def test_python_m_entries_run_as_documented(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, '-m', *args], capture_output=True, text=True, timeout=300)
    helped = run('convzoo.converters.rcnet', '--help')
    assert helped.returncode == 0 and '--sha256 HEX' in helped.stdout and 'RevFP.p{3..7}' in helped.stdout
    missing = run('convzoo.converters.restoration', 'deanet', str(tmp_path / 'nothing.pth'), str(tmp_path / 'o.pth'))
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [f'error: checkpoint file {tmp_path / "nothing.pth"} does not exist']
