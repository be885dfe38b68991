"""Detection necks, registered in mmdet's ``MODELS``: SEPC, RCNet and its cross-scale shift network."""
from convzoo.core.registry import import_room
from convzoo.necks.rcnet import CSN, RCNet
from convzoo.necks.sepc import SEPC

__all__ = ['SEPC', 'RCNet', 'CSN']

import_room(__name__, __path__)  # every file registers its modules; a new one needs no line here
