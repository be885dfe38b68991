"""Detection necks (registered in ``mmdet.registry.MODELS``)."""
from convzoo.necks.rcnet import CSN, RCNet
from convzoo.necks.sepc import SEPC

__all__ = ['SEPC', 'RCNet', 'CSN']
