"""Restoration and super-resolution on mmengine (registry scope ``convzoo``): ESPCN, MIRNet, DEA-Net, the
restoration model, paired data, degradations, PSNR/SSIM, hooks, embedded data and the inference adapter."""
from convzoo.tasks.restoration import (  # noqa: F401  (registration)
    data, dea_net, embedded_data, espcn, hooks, inference, losses, metrics, mirnet, model)
