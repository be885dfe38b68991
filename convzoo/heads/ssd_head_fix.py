"""mmdet 3.3.0's SSDHead cannot predict: ``BaseDenseHead._predict_by_feat_single`` reads ``self.loss_cls`` (for
v3det's custom classifier losses), but SSDHead computes its softmax loss itself and never sets ``loss_cls``, so
every SSD / SSDLite test or inference fails with ``AttributeError: 'SSDHead' object has no attribute 'loss_cls'``.
A class-level ``loss_cls = None`` makes that check read "no custom classifier", which is what SSD is; training is
unaffected (SSDHead.loss_by_feat_single never reads it). Site-packages are not edited.
"""
from mmdet.models.dense_heads import SSDHead


def apply() -> None:
    if not hasattr(SSDHead, 'loss_cls'):
        SSDHead.loss_cls = None


apply()
