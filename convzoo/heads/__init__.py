"""Detection heads (registered in ``mmdet.registry.MODELS``)."""
from convzoo.heads.sepc_retina_head import SEPCRetinaHead

__all__ = ['SEPCRetinaHead']
