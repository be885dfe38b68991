"""Degradations that turn a clean image into a restoration input; float32 H x W x C arrays in [0, 1].

* ``bicubic_downscale``: antialiased bicubic (Keys a = -0.5 with the kernel widened by the scale, the
  MATLAB ``imresize`` / PIL convention SR benchmarks use), after cropping to a multiple of the scale.
* ``blur_downscale``: Gaussian blur then subsampling every r-th pixel (the ESPCN paper's degradation).
* ``add_gaussian_noise``: additive white Gaussian noise of std sigma on the 0-255 scale, clipped.
* ``add_haze``: atmospheric scattering model ``I = J t + A (1 - t)``, ``t = exp(-beta d)`` from a depth map;
  ``random_depth`` (linear in depth) and ``random_inverse_depth`` (linear in disparity) draw a smooth synthetic
  depth map when the scene's own is unknown.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop bottom/right so both sides are multiples of ``scale``."""
    h, w = img.shape[:2]
    return img[:h - h % scale, :w - w % scale]


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()


def _to_array(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).numpy().astype(np.float32)


def bicubic_resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (h, w): antialiased bicubic when shrinking, plain bicubic when enlarging."""
    out = F.interpolate(_to_tensor(img), size=size, mode='bicubic', align_corners=False,
                        antialias=size[0] < img.shape[0])
    return _to_array(out)


def bicubic_downscale(img: np.ndarray, scale: int) -> np.ndarray:
    img = mod_crop(img, scale)
    return np.clip(bicubic_resize(img, (img.shape[0] // scale, img.shape[1] // scale)), 0, 1)


def blur_downscale(img: np.ndarray, scale: int, sigma: float | None = None) -> np.ndarray:
    """Gaussian blur (default sigma = 0.4 r, kernel covering +-3 sigma) then keep every r-th pixel."""
    img = mod_crop(img, scale)
    sigma = 0.4 * scale if sigma is None else sigma
    size = 2 * int(np.ceil(3 * sigma)) + 1
    blurred = cv2.GaussianBlur(img, (size, size), sigma, borderType=cv2.BORDER_REFLECT)
    blurred = blurred.reshape(img.shape)
    offset = scale // 2  # sample the centre of each r x r cell
    return np.ascontiguousarray(blurred[offset::scale, offset::scale])


def add_gaussian_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(img.shape).astype(np.float32) * (sigma / 255.0)
    return np.clip(img + noise, 0, 1)


def add_haze(img: np.ndarray, depth: np.ndarray, beta: float, airlight: float | tuple) -> np.ndarray:
    """``depth`` is H x W, in scene units (e.g. normalised to [0, 1]); ``airlight`` scalar or RGB."""
    transmission = np.exp(-beta * depth.astype(np.float32))[..., None]
    airlight = np.broadcast_to(np.asarray(airlight, np.float32), (img.shape[2],))
    return np.clip(img * transmission + airlight * (1 - transmission), 0, 1).astype(np.float32)


def _random_layout(shape: tuple[int, int], rng: np.random.Generator, ramp: tuple[float, float]) -> np.ndarray:
    """Smooth H x W field in [0, 1] (1 = far): a top-to-bottom ramp (far sky, near ground) of random weight mixed
    with a low-frequency random field of random coarseness. Made at low resolution and enlarged (cheap)."""
    h, w = shape
    grid = int(rng.integers(2, 7))
    coarse = rng.random((grid, grid)).astype(np.float32)
    small = (max(2, min(h, 64)), max(2, min(w, 64)))
    field = cv2.resize(coarse, small[::-1], interpolation=cv2.INTER_CUBIC)
    weight = rng.uniform(*ramp)
    slope = np.linspace(1.0, 0.0, small[0], dtype=np.float32)[:, None]
    layout = weight * slope + (1 - weight) * field
    layout = (layout - layout.min()) / (np.ptp(layout) + 1e-6)
    return cv2.resize(layout, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w)


def random_depth(shape: tuple[int, int], rng: np.random.Generator, near: tuple[float, float] = (0.1, 0.3),
                 far: tuple[float, float] = (0.6, 1.0), ramp: tuple[float, float] = (0.3, 0.9)) -> np.ndarray:
    """Smooth synthetic depth (H x W float32): the random layout rescaled linearly to [n, f], n drawn from
    ``near`` and f from ``far``."""
    layout = _random_layout(shape, rng, ramp)
    n, f = rng.uniform(*near), rng.uniform(*far)
    return np.clip(n + (f - n) * layout, min(near[0], far[0]), max(near[1], far[1])).astype(np.float32)


def random_inverse_depth(shape: tuple[int, int], rng: np.random.Generator,
                         disparity_ratio: tuple[float, float] = (2.0, 10.0),
                         ramp: tuple[float, float] = (0.3, 0.9)) -> np.ndarray:
    """Smooth synthetic depth drawn in inverse-depth (disparity) space, as stereo depth maps are made: the random
    layout is mapped linearly to a disparity in [1, r] (r, the nearest-to-farthest disparity ratio, drawn from
    ``disparity_ratio``; far = 1) and inverted, so depth lies in [1/r, 1]. A plane is affine in disparity, not in
    depth, so this puts most pixels near the camera, as in real scenes (a linear depth ramp puts them halfway)."""
    layout = _random_layout(shape, rng, ramp)
    r = rng.uniform(*disparity_ratio)
    return (1.0 / (r - (r - 1.0) * layout)).astype(np.float32)


def depth_from_disparity(disparity: np.ndarray) -> np.ndarray:
    """Depth in (0, 1] from a stereo disparity map (depth ~ 1 / disparity); invalid pixels take the nearest
    valid value."""
    from scipy.ndimage import distance_transform_edt
    valid = np.isfinite(disparity) & (disparity > 0)
    _, (iy, ix) = distance_transform_edt(~valid, return_indices=True)
    filled = disparity[iy, ix]
    return (filled.min() / filled).astype(np.float32)
