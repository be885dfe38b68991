"""ONNX export of restoration networks (the ``generator``: ESPCN on Y, MIRNet, deployed DEA-Net) with dynamic
batch, height and width, and a check against PyTorch with onnxruntime on the same input."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from convzoo.deploy.graph import DEFAULT_OPSET, export_graph, onnx_session

__all__ = ['deployable', 'export_onnx', 'max_difference', 'onnx_session', 'sample_input']


def deployable(generator: nn.Module) -> nn.Module:
    """The generator in inference form: DEA-Net's DEConvs folded into plain convs (the exporter needs static
    kernels; the folded conv is also faster)."""
    if hasattr(generator, 'switch_to_deploy'):
        generator.switch_to_deploy()
    return generator.eval()


def sample_input(generator: nn.Module, height: int, width: int, seed: int = 0) -> torch.Tensor:
    channels = getattr(generator, 'in_channels', 3)
    return torch.rand(1, channels, height, width, generator=torch.Generator().manual_seed(seed))


def export_onnx(generator: nn.Module, path: str, height: int = 64, width: int = 64,
                opset: int = DEFAULT_OPSET) -> None:
    generator = deployable(generator)
    dims = {0: 'batch', 2: 'height', 3: 'width'}
    export_graph(generator, sample_input(generator, height, width), path, ['output'],
                 metadata=dict(task='restoration'), dynamic_axes={'input': dims, 'output': dims}, opset=opset)


def max_difference(generator: nn.Module, path: str, height: int, width: int) -> float:
    """Largest absolute difference between PyTorch and onnxruntime outputs on one random input."""
    x = sample_input(generator, height, width, seed=1)
    with torch.no_grad():
        expected = generator(x).numpy()
    got = onnx_session(path).run(None, {'input': x.numpy()})[0]
    if got.shape != expected.shape:
        raise AssertionError(f'ONNX output shape {got.shape} != PyTorch {expected.shape}')
    return float(np.abs(got - expected).max())
