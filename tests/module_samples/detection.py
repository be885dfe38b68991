"""Tiny-input samples of the detection modules for tests/test_registered_modules.py."""
import torch

C = 8
PYRAMID = [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
ANCHORS = dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
               strides=[8, 16, 32, 64, 128])


def pyramid(n=2, c=C):
    return [torch.randn(n, c, h, w) for h, w in PYRAMID]


def pairs(n=2, c=C):
    return [(torch.randn(n, c, h, w), torch.randn(n, c, h, w)) for h, w in PYRAMID]


# registered name -> (registry scope, config, input factory returning the forward's positional arguments)
SAMPLES = {
    'SEPC': ('mmdet', dict(type='SEPC', in_channels=[C] * 5, out_channels=C, pconv_deform=True,
                           lcconv_deform=True, ibn=True), lambda: (pyramid(),)),
    'SEPCRetinaHead': ('mmdet', dict(type='SEPCRetinaHead', num_classes=3, in_channels=C, feat_channels=C,
                                     anchor_generator=ANCHORS), lambda: (pairs(),)),
}


# --- RCNet / CSN / DN-FPN -------------------------------------------------------------------------------------------
RC = 16  # RCNet's cross-scale shift needs channels >= 16 (one channel per shifted group)
BACKBONE = [(8, 32, 32), (16, 16, 16), (32, 8, 8), (64, 4, 4)]  # C2-C5 of a tiny backbone: (channels, h, w)


def backbone_feats(n=2):
    return [torch.randn(n, c, h, w) for c, h, w in BACKBONE]


def rcnet_cfg(name='RCNet'):
    return dict(type=name, in_channels=[c for c, _, _ in BACKBONE], out_channels=RC, start_level=1,
                norm_cfg=dict(type='BN', requires_grad=True))


def tiny_detector_cfg(config: str, **changes) -> dict:
    """The model of an mmdet config (path under mmdet's configs/) at toy size: ResNet-18 with 8 base channels, 16-channel pyramid and heads."""
    import os.path as osp

    import mmdet
    from mmengine.config import Config
    model = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', config)).model
    model.data_preprocessor.type = 'mmdet.DetDataPreprocessor'  # built through mmengine's root registry
    model.backbone.update(depth=18, base_channels=8, init_cfg=None, frozen_stages=-1, norm_eval=False)
    model.neck.update(in_channels=[8, 16, 32, 64], out_channels=RC)
    for head in ('rpn_head', 'bbox_head'):
        if head in model:
            model[head].update(in_channels=RC, feat_channels=RC)
    if 'roi_head' in model:
        model.roi_head.bbox_roi_extractor.out_channels = RC
        heads = model.roi_head.bbox_head
        for head in heads if isinstance(heads, list) else [heads]:
            head.update(in_channels=RC, fc_out_channels=32, num_classes=3)
    else:
        model.bbox_head.update(num_classes=3, stacked_convs=1, norm_cfg=dict(type='GN', num_groups=4))
    model.update(changes)
    return model  # a ConfigDict: two-stage detectors read train_cfg.rpn as an attribute


def detector_loss_inputs(n=2, size=64):
    """(inputs, data_samples, 'loss') for a detector: n random images with two boxes each."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    samples = []
    for _ in range(n):
        sample = DetDataSample(metainfo=dict(img_shape=(size, size), pad_shape=(size, size), ori_shape=(size, size),
                                             batch_input_shape=(size, size), scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[4.0, 6.0, 30.0, 28.0], [20.0, 24.0, 60.0, 58.0]]),
                                           labels=torch.tensor([0, 2]))
        samples.append(sample)
    return torch.randn(n, 3, size, size), samples, 'loss'


DN_FPN = dict(type='DNFPNContrastiveLoss', in_channels=[c for c, _, _ in BACKBONE], channels=RC)
SAMPLES.update({
    'RCNet': ('mmdet', rcnet_cfg(), lambda: (backbone_feats(),)),
    'RCFPN': ('mmdet', rcnet_cfg('RCFPN'), lambda: (backbone_feats(),)),
    'CSN': ('mmdet', dict(type='CSN', in_channels=RC, norm_cfg=dict(type='BN')), lambda: (pyramid(c=RC),)),
    'CrossShiftNet': ('mmdet', dict(type='CrossShiftNet', in_channels=RC), lambda: (pyramid(c=RC),)),
    'DNFPNContrastiveLoss': ('mmdet', DN_FPN, lambda: (backbone_feats(3), [torch.randn(3, RC, h, w)
                                                                         for _, h, w in BACKBONE])),
    'DNFPNFasterRCNN': ('mmdet', tiny_detector_cfg('faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
                                                   type='DNFPNFasterRCNN', dn_fpn_loss=DN_FPN), detector_loss_inputs),
    'DNFPNCascadeRCNN': ('mmdet', tiny_detector_cfg('cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py',
                                                    type='DNFPNCascadeRCNN', dn_fpn_loss=DN_FPN),
                         detector_loss_inputs),
    'DNFPNATSS': ('mmdet', tiny_detector_cfg('atss/atss_r50_fpn_1x_coco.py', type='DNFPNATSS',
                                             dn_fpn_loss=dict(DN_FPN, in_channels=[16, 32, 64],
                                                              backbone_indices=(1, 2, 3), neck_indices=(0, 1, 2))),
                  detector_loss_inputs),
})
