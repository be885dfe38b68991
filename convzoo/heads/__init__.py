"""Heads: SEPC's RetinaNet head and the rotated RetinaNet head with its anchors and coder (mmdet's registries),
DeepLab v2's ASPP head (mmseg's ``MODELS``), and the fix that lets mmdet 3.3's SSD head predict."""
from convzoo.core.registry import import_room
from convzoo.heads.aspp_v2_head import ASPP_L, ASPP_S, LARGE_FOV, ASPPv2Head
from convzoo.heads.rotated_retina_head import RotatedRetinaHead
from convzoo.heads.sepc_retina_head import SEPCRetinaHead

__all__ = ['SEPCRetinaHead', 'RotatedRetinaHead', 'ASPPv2Head', 'ASPP_L', 'ASPP_S', 'LARGE_FOV']

import_room(__name__, __path__)  # every file registers its modules; a new one needs no line here
