"""Detector plug-ins and their losses, registered in mmdet's ``MODELS``: DN-FPN (contrastive denoising of the
pyramid) for Faster R-CNN, Cascade R-CNN and ATSS."""
from convzoo.core.registry import import_room
from convzoo.detectors.dn_fpn import DNFPNATSS, DNFPNCascadeRCNN, DNFPNContrastiveLoss, DNFPNFasterRCNN

__all__ = ['DNFPNContrastiveLoss', 'DNFPNFasterRCNN', 'DNFPNCascadeRCNN', 'DNFPNATSS']

import_room(__name__, __path__)  # every file registers its modules; a new one needs no line here
