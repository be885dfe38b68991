"""Tiny-input samples of the segmentation modules for tests/test_registered_modules.py."""
import torch

C = 8
TINY_BACKBONE = dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8, out_indices=(3,),
                     dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=dict(type='BN'), contract_dilation=True)
HEAD = dict(type='ASPPv2Head', in_channels=C, channels=C, num_classes=3, dilations=(1, 2, 3, 4))

# registered name -> (registry scope, config, input factory returning the forward's positional arguments)
SAMPLES = {
    'ASPPv2Head': ('mmseg', HEAD, lambda: ([torch.randn(2, C, 12, 10)],)),
    'CRFEncoderDecoder': ('mmseg', dict(type='CRFEncoderDecoder', backbone=TINY_BACKBONE,
                                        decode_head=dict(HEAD, in_channels=64, in_index=0),
                                        test_cfg=dict(mode='whole', crf=dict(iterations=2))),
                          lambda: (torch.randn(2, 3, 32, 40),)),
}
