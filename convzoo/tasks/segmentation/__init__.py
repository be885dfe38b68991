"""Segmentation task on mmsegmentation: DeepLab v2 (ASPP head, dense CRF), Cityscapes preparation and official
evaluation, the embedded Cityscapes-layout dataset, the inference adapter."""
from convzoo.tasks.segmentation import cityscapes, deeplab, embedded_cityscapes, inference  # noqa: F401  (registration)
from convzoo.tasks.segmentation.deeplab import ASPP_L, ASPP_S, LARGE_FOV, ASPPv2Head, CRFEncoderDecoder

__all__ = ['ASPP_L', 'ASPP_S', 'LARGE_FOV', 'ASPPv2Head', 'CRFEncoderDecoder']
