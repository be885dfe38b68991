"""Restoration and super-resolution networks and the restorer model, in convzoo's registry (scope ``convzoo``):
ESPCN, MIRNet, DEA-Net, ``RestorationModel`` and its data preprocessor, the pixel and contrastive losses."""
from convzoo.core.registry import import_room
from convzoo.restorers.dea_net import DEANet
from convzoo.restorers.espcn import ESPCN
from convzoo.restorers.losses import CharbonnierLoss, ContrastRegularization, PixelL1Loss, PixelMSELoss
from convzoo.restorers.mirnet import MIRNet
from convzoo.restorers.restoration_model import RestorationDataPreprocessor, RestorationModel

__all__ = ['ESPCN', 'MIRNet', 'DEANet', 'RestorationModel', 'RestorationDataPreprocessor', 'PixelL1Loss',
           'PixelMSELoss', 'CharbonnierLoss', 'ContrastRegularization']

import_room(__name__, __path__)  # every file registers its modules; a new one needs no line here
