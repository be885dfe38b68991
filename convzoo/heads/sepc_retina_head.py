"""RetinaNet head for SEPC (Wang et al., CVPR 2020): the "combined head".

The SEPC neck's PConv layers replace RetinaNet's two 4-conv towers (shared by classification and regression) and
its ``cls_conv``/``reg_conv`` act as the one branch-specific conv each, so this head has ``stacked_convs=0`` and
takes a ``(cls_feat, reg_feat)`` pair per level; a single tensor is used for both branches. Its own
``retina_cls``/``retina_reg`` convs are padded (padding 1); the reference's unpadded convs are the neck's
``lcconv_padding=0`` legacy flag.
"""
from mmdet.models.dense_heads import RetinaHead
from mmdet.registry import MODELS


@MODELS.register_module()
class SEPCRetinaHead(RetinaHead):

    def __init__(self, *args, stacked_convs: int = 0, **kwargs):
        super().__init__(*args, stacked_convs=stacked_convs, **kwargs)

    def forward_single(self, x):
        cls_feat, reg_feat = x if isinstance(x, (tuple, list)) else (x, x)
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            reg_feat = conv(reg_feat)
        return self.retina_cls(cls_feat), self.retina_reg(reg_feat)
