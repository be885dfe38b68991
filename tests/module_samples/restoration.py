"""Tiny-input samples of the restoration modules (registry scope convzoo) for tests/test_registered_modules.py."""
import os
import tempfile

import torch
from mmengine.structures import BaseDataElement


def random_vgg19_file() -> str:
    """A torchvision-layout VGG19 ``features`` file with random weights (the real one cannot be downloaded)."""
    path = os.path.join(tempfile.gettempdir(), 'convzoo_vgg19_features_random.pth')
    if not os.path.isfile(path):
        from convzoo.restorers.losses import vgg19_features
        torch.manual_seed(0)
        state = {f'features.{k}': v for k, v in vgg19_features().state_dict().items()}
        torch.save(state, f'{path}.{os.getpid()}.tmp')
        os.replace(f'{path}.{os.getpid()}.tmp', path)
    return path


def rgb(n=2, h=16, w=16, grad=False):
    return torch.rand(n, 3, h, w, requires_grad=grad)


SAMPLES = {
    'ESPCN': ('convzoo', dict(type='ESPCN', scale=3), lambda: (torch.rand(2, 1, 9, 11),)),
    'MIRNet': ('convzoo', dict(type='MIRNet', n_feat=8, n_rrg=1, n_mrb=1), lambda: (rgb(1),)),
    'DEANet': ('convzoo', dict(type='DEANet', base_dim=8), lambda: (rgb(1),)),
    'DEConv': ('convzoo', dict(type='DEConv', in_channels=4), lambda: (torch.rand(2, 4, 8, 8),)),
    'RestorationModel': ('convzoo', dict(type='RestorationModel', generator=dict(type='ESPCN', scale=2),
                                         channel_mode='y'), lambda: (rgb(),)),
    'RestorationDataPreprocessor': ('convzoo', dict(type='RestorationDataPreprocessor', pad_size_divisor=4),
                                    lambda: (dict(inputs=[rgb(1, 9, 7, True)[0], rgb(1, 5, 6, True)[0]],
                                                  data_samples=[BaseDataElement(), BaseDataElement()]), True)),
    'PixelL1Loss': ('convzoo', dict(type='PixelL1Loss'), lambda: (rgb(grad=True), rgb())),
    'PixelMSELoss': ('convzoo', dict(type='PixelMSELoss'), lambda: (rgb(grad=True), rgb())),
    'CharbonnierLoss': ('convzoo', dict(type='CharbonnierLoss'), lambda: (rgb(grad=True), rgb())),
    'ContrastRegularization': ('convzoo', dict(type='ContrastRegularization', vgg_weights=random_vgg19_file()),
                               lambda: (rgb(1, 32, 32, True), rgb(1, 32, 32), rgb(1, 32, 32))),
}
