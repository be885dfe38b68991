"""DeepLab v2 ASPP head: branches, rates, the sum, output stride, the segmentor's CRF step, the paper configs."""
import copy

import pytest
import torch
from mmengine.config import ConfigDict
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import nn

from convzoo.core.config import load_config
from convzoo.heads import ASPP_L, ASPP_S, LARGE_FOV
from convzoo.layers.dense_crf import dense_crf

HEAD = dict(type='ASPPv2Head', in_channels=16, channels=8, num_classes=5, dropout_ratio=0.5)
TINY_BACKBONE = dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8, out_indices=(0, 1, 2, 3),
                     dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=dict(type='BN'), contract_dilation=True)
PREPROCESSOR = dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                    bgr_to_rgb=True, pad_val=0, seg_pad_val=255)


def build_head(**kwargs) -> nn.Module:
    torch.manual_seed(0)
    head = MODELS.build(dict(HEAD, **kwargs))
    head.init_weights()
    return head.eval()


def fc6_of(branch: nn.Sequential) -> nn.Conv2d:
    first = branch[0]
    return first.conv if hasattr(first, 'conv') else first


@pytest.mark.parametrize('rates', [ASPP_L, ASPP_S, LARGE_FOV])
def test_one_branch_per_rate_with_the_papers_layers(rates):
    head = build_head(dilations=rates)
    assert len(head.branches) == len(rates)
    for branch, rate in zip(head.branches, rates):
        fc6 = fc6_of(branch)
        assert fc6.kernel_size == (3, 3) and fc6.dilation == (rate, rate) and fc6.padding == (rate, rate)
        convs = [m for m in branch.modules() if isinstance(m, nn.Conv2d)]
        assert [c.kernel_size for c in convs] == [(3, 3), (1, 1), (1, 1)]  # fc6, fc7, fc8
        assert [c.out_channels for c in convs] == [8, 8, 5]
        assert sum(isinstance(m, nn.Dropout) and m.p == 0.5 for m in branch) == 2
        assert not any(isinstance(m, nn.BatchNorm2d) for m in branch.modules())  # no BN in the paper's head
    assert not hasattr(head, 'conv_seg')  # every branch has its own classifier


def test_aspp_l_output_is_the_sum_of_its_branches():
    head = build_head(dilations=ASPP_L)
    x = [torch.randn(2, 16, 30, 30)]
    with torch.no_grad():
        out = head(x)
        branches = head.branch_outputs(x)
        torch.testing.assert_close(out, sum(branches), rtol=1e-5, atol=1e-5)
        # silence all classifiers but one: the head's output is that branch alone, for each branch in turn
        for keep in range(4):
            silenced = copy.deepcopy(head)
            for index, branch in enumerate(silenced.branches):
                if index != keep:
                    nn.init.zeros_(branch[-1].weight)
                    nn.init.zeros_(branch[-1].bias)
            torch.testing.assert_close(silenced(x), branches[keep], rtol=1e-5, atol=1e-6)
    assert all(not torch.allclose(branches[0], b) for b in branches[1:])  # the rates see different context


def test_bare_classifier_branches_of_the_released_resnet_model():
    head = build_head(dilations=ASPP_L, bare_classifiers=True)
    for branch, rate in zip(head.branches, ASPP_L):
        (conv,) = branch
        assert (conv.in_channels, conv.out_channels, conv.dilation) == (16, 5, (rate, rate))
    assert head([torch.randn(1, 16, 9, 9)]).shape == (1, 5, 9, 9)


def test_optional_norm_and_bad_rates():
    head = build_head(norm_cfg=dict(type='BN'))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in head.modules()) == 2 * len(ASPP_L)
    with pytest.raises(ValueError, match='atrous rates'):
        build_head(dilations=())


def tiny_segmentor(crf=None):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='CRFEncoderDecoder', data_preprocessor=PREPROCESSOR, backbone=TINY_BACKBONE,
                              decode_head=dict(HEAD, in_channels=64, in_index=3),
                              test_cfg=ConfigDict(mode='whole', **({'crf': crf} if crf is not None else {}))))
    model.init_weights()
    return model.eval()


def test_output_stride_8_and_predictions_at_the_input_size():
    model = tiny_segmentor()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        feats = model.extract_feat(x)
        logits = model(x, mode='tensor')
        sample = SegDataSample(metainfo=dict(img_shape=(64, 96), ori_shape=(64, 96), padding_size=[0, 0, 0, 0]))
        (pred,) = model.predict(x, [sample])
    assert feats[-1].shape[-2:] == (8, 12) and logits.shape == (1, 5, 8, 12)  # 64 / 8, 96 / 8
    assert pred.seg_logits.data.shape == (5, 64, 96) and pred.pred_sem_seg.data.shape == (1, 64, 96)


def test_crf_step_refines_the_upsampled_softmax_with_the_original_colours():
    """The segmentor's CRF output equals dense_crf on softmax(seg_logits) with the original (un-padded) image."""
    image = torch.randint(0, 256, (40, 52, 3), dtype=torch.uint8)
    crf = dict(iterations=5, bilateral_xy_std=10.0, bilateral_rgb_std=20.0)
    model = tiny_segmentor(crf)
    packed = dict(inputs=[image.permute(2, 0, 1)[[2, 1, 0]].contiguous()],  # BGR CHW as PackSegInputs gives
                  data_samples=[SegDataSample(metainfo=dict(img_shape=(40, 52), ori_shape=(40, 52)))])
    data = dict(model.data_preprocessor.__class__(**{k: v for k, v in PREPROCESSOR.items() if k != 'type'},
                                                  size_divisor=16)(packed, training=True))
    assert data['inputs'].shape[-2:] == (48, 64)  # padded
    restored = model.original_image(data['inputs'][0], data['data_samples'][0].metainfo)
    torch.testing.assert_close(restored, image.float(), atol=1e-3, rtol=0)  # de-normalised, padding removed
    with torch.no_grad():
        (sample,) = model.predict(data['inputs'], data['data_samples'])
    expected = dense_crf(sample.seg_logits.data.softmax(0), restored, **crf).argmax(0)
    assert torch.equal(sample.pred_sem_seg.data[0], expected)
    plain = tiny_segmentor()
    with torch.no_grad():
        (no_crf,) = plain.predict(data['inputs'], data['data_samples'])
    assert torch.equal(no_crf.pred_sem_seg.data[0], sample.seg_logits.data.argmax(0))


def test_paper_configs_are_the_papers_recipe():
    cfg = load_config('configs/deeplab_v2/deeplabv2_aspp-l_r101_cityscapes.py')
    backbone, head = cfg.model.backbone, cfg.model.decode_head
    assert (backbone.type, backbone.depth, backbone.dilations, backbone.strides) == ('ResNetV1c', 101, (1, 1, 2, 4),
                                                                                    (1, 2, 1, 1))
    assert backbone.norm_cfg.requires_grad is False and backbone.norm_eval is True  # Caffe's frozen BN
    assert (head.type, head.dilations, head.channels, head.dropout_ratio, head.in_channels) == (
        'ASPPv2Head', (6, 12, 18, 24), 1024, 0.5, 2048)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum, optimizer.weight_decay) == ('SGD', 2.5e-4, 0.9, 5e-4)
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['decode_head'].lr_mult == 10.0
    (poly,) = cfg.param_scheduler
    assert (poly.type, poly.power, poly.end) == ('PolyLR', 0.9, cfg.train_cfg.max_iters)
    assert [e.type for e in cfg.test_evaluator] == ['IoUMetric', 'CityscapesOfficialMetric']
    assert cfg.train_dataloader.dataset.data_root == 'data/cityscapes/'
    assert 'crf' not in cfg.model.test_cfg
    crf = load_config('configs/deeplab_v2/deeplabv2_aspp-l_r101_cityscapes_crf.py').model.test_cfg.crf
    assert crf == dict(iterations=10, bilateral_weight=4.0, bilateral_xy_std=67.0, bilateral_rgb_std=3.0,
                       gaussian_weight=3.0, gaussian_xy_std=1.0)
    assert load_config('configs/deeplab_v2/deeplabv2_aspp-s_r101_cityscapes.py').model.decode_head.dilations == \
        ASPP_S
    assert load_config('configs/deeplab_v2/deeplabv2_largefov_r101_cityscapes.py').model.decode_head.dilations \
        == LARGE_FOV
    voc = load_config('configs/deeplab_v2/deeplabv2_aspp-l_r101_voc12aug.py')
    assert voc.crop_size == (321, 321) and voc.train_dataloader.batch_size == 10
    assert voc.train_cfg.max_iters == 20000 and voc.model.decode_head.num_classes == 21
    v3 = load_config('configs/deeplab_v2/deeplabv3_r101_cityscapes.py').model
    assert v3.decode_head.type == 'ASPPHead' and v3.type == 'CRFEncoderDecoder'  # the sibling, not re-implemented
