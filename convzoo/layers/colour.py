"""ITU-R BT.601 YCbCr (studio range, as MATLAB's rgb2ycbcr), the colour space SR papers train and report in.

For RGB in [0, 1]: Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255, so Y lies in [16/255, 235/255]; Cb and Cr
centre on 128/255. Works on torch tensors (N, 3, H, W) and on numpy arrays (..., 3).
"""
from __future__ import annotations

import numpy as np
import torch

RGB_TO_YCBCR = np.array([[65.481, 128.553, 24.966],
                         [-37.797, -74.203, 112.0],
                         [112.0, -93.786, -18.214]]) / 255.0
YCBCR_OFFSET = np.array([16.0, 128.0, 128.0]) / 255.0
YCBCR_TO_RGB = np.linalg.inv(RGB_TO_YCBCR)


def _matrix(m: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(m, dtype=like.dtype, device=like.device)


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> YCbCr in [0, 1]."""
    return (torch.einsum('oc,nchw->nohw', _matrix(RGB_TO_YCBCR, rgb), rgb)
            + _matrix(YCBCR_OFFSET, rgb).view(1, 3, 1, 1))


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    centred = ycbcr - _matrix(YCBCR_OFFSET, ycbcr).view(1, 3, 1, 1)
    return torch.einsum('oc,nchw->nohw', _matrix(YCBCR_TO_RGB, ycbcr), centred)


def rgb_to_y_numpy(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB in [0, 255] -> Y in [16, 235] (float64)."""
    return rgb.astype(np.float64) @ RGB_TO_YCBCR[0] + 16.0
