"""Fully connected CRF with Gaussian edge potentials and mean-field inference (Krähenbühl and Koltun, NIPS 2011),
as DeepLab (Chen et al., TPAMI 2017) applies it to the softmax of its upsampled logits.

Energy over the labels x of all pixels, with P the network's class probabilities:

    E(x) = sum_i -log P_i(x_i) + sum_{i<j} [x_i != x_j] k(f_i, f_j)
    k    = w1 exp(-|p_i - p_j|^2 / 2 theta_a^2 - |I_i - I_j|^2 / 2 theta_b^2)   appearance (position and colour)
         + w2 exp(-|p_i - p_j|^2 / 2 theta_g^2)                                smoothness (position)

Mean field starts from Q = P and repeats Q <- softmax(log P + sum_m w_m Qm), where Qm is Q filtered with kernel m
and divided by the kernel's total weight at the pixel (with the Potts model the pairwise energy of label l is
w_m (1 - Qm(l)), and the constant drops out of the softmax). The per-pixel normalisation and the inclusion of the
pixel itself follow the CRF code DeepLab released (Krähenbühl's 2011 implementation).

The appearance kernel is filtered on a permutohedral lattice over (x/theta_a, y/theta_a, r/theta_b, g/theta_b,
b/theta_b) (``convzoo.layers.permutohedral``), the smoothness kernel exactly by a separable Gaussian (truncated at
3 theta_g; on the lattice too when theta_g is large). ``dense_crf(probs, image)`` works on any probability map.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from convzoo.layers.permutohedral import PermutohedralLattice

MAX_SEPARABLE_RADIUS = 12  # smoothness kernels wider than this (3 theta_g) go through the lattice
BAND_ROWS = 16  # rows per band of the separable filter and the softmax: a band of 19 classes x 1024 px fits in L2


@dataclass(frozen=True)
class CRFParams:
    """DeepLab's defaults for its ResNet-101 models (tuned per dataset by cross-validation in the paper)."""

    iterations: int = 10
    bilateral_weight: float = 4.0  # w1
    bilateral_xy_std: float = 67.0  # theta_alpha, pixels
    bilateral_rgb_std: float = 3.0  # theta_beta, 8-bit colour units
    gaussian_weight: float = 3.0  # w2
    gaussian_xy_std: float = 1.0  # theta_gamma, pixels
    min_prob: float = 1e-8  # probabilities are clamped here before the log

    def __post_init__(self):
        if self.iterations < 0 or self.min_prob <= 0:
            raise ValueError(f'CRF: iterations must be >= 0 and min_prob > 0, got {asdict(self)}')
        if min(self.bilateral_xy_std, self.bilateral_rgb_std, self.gaussian_xy_std) <= 0:
            raise ValueError(f'CRF: kernel widths must be positive, got {asdict(self)}')


def _pixel_grid(height: int, width: int) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                            indexing='ij')
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], 1)


def _gaussian_taps(sigma: float) -> list[float]:
    """exp(-k^2 / 2 sigma^2) for k = 0 .. ceil(3 sigma) (the mass beyond 3 sigma is 0.3 %)."""
    return [math.exp(-0.5 * (k / sigma) ** 2) for k in range(max(1, math.ceil(3 * sigma)) + 1)]


def _axis_mass(taps: list[float], size: int) -> torch.Tensor:
    """Total tap weight that falls inside an axis of ``size`` pixels, per pixel (the kernel is cut at the border)."""
    mass = torch.full((size,), taps[0], dtype=torch.float64)
    for shift, tap in enumerate(taps[1:size], start=1):
        mass[shift:] += tap
        mass[:size - shift] += tap
    return mass


def _shift_add(values: torch.Tensor, taps: list[float], dim: int) -> torch.Tensor:
    """sum_k taps[|k|] * values shifted by k along ``dim`` (zero outside)."""
    acc = values * taps[0]
    size = values.shape[dim]
    for shift, tap in enumerate(taps[1:size], start=1):
        acc.narrow(dim, shift, size - shift).add_(values.narrow(dim, 0, size - shift), alpha=tap)
        acc.narrow(dim, 0, size - shift).add_(values.narrow(dim, shift, size - shift), alpha=tap)
    return acc


def gaussian_rows(values: torch.Tensor, taps: list[float], top: int, bottom: int) -> torch.Tensor:
    """Rows ``top:bottom`` of the separable Gaussian filtering of (H, W, C) ``values`` with symmetric ``taps``.

    Reads only the rows within the kernel radius of the band (shift-and-add along the row, then across rows), so
    a band of a few dozen rows is filtered in cache; nothing outside the image contributes.
    """
    height = values.shape[0]
    radius = min(len(taps) - 1, height - 1)
    first, last = max(top - radius, 0), min(bottom + radius, height)
    rows = _shift_add(values[first:last], taps, 1)
    filtered = rows[top - first:bottom - first] * taps[0]
    for shift, tap in enumerate(taps[1:radius + 1], start=1):  # output row y takes rows y - shift and y + shift
        above_lo, below_hi = max(top - shift, first), min(bottom + shift, last)
        filtered[above_lo + shift - top:].add_(rows[above_lo - first:bottom - shift - first], alpha=tap)
        filtered[:below_hi - shift - top].add_(rows[top + shift - first:below_hi - first], alpha=tap)
    return filtered


def separable_gaussian(values: torch.Tensor, sigma: float, band_rows: int = BAND_ROWS) -> torch.Tensor:
    """sum_j exp(-|p_i - p_j|^2 / 2 sigma^2) v_j over pixels j within 3 sigma per axis, for (H, W, C) values."""
    taps = _gaussian_taps(sigma)
    return torch.cat([gaussian_rows(values, taps, top, min(top + band_rows, values.shape[0]))
                      for top in range(0, values.shape[0], band_rows)])


class _Smoothness:
    """The position-only kernel, exactly (separable, truncated at 3 sigma), normalised per pixel by its mass."""

    def __init__(self, weight: float, sigma: float, height: int, width: int):
        self.taps = _gaussian_taps(sigma)
        mass = _axis_mass(self.taps, height)[:, None, None] * _axis_mass(self.taps, width)[None, :, None]
        self.scale = (weight / mass).to(torch.float32)  # (H, W, 1)

    def add_rows(self, q: torch.Tensor, logits: torch.Tensor, top: int, bottom: int) -> None:
        """logits[top:bottom] += normalised filtering of q, both (H, W, C)."""
        logits[top:bottom].addcmul_(self.scale[top:bottom], gaussian_rows(q, self.taps, top, bottom))


class _Appearance:
    """A kernel filtered on the permutohedral lattice, its per-pixel normalisation folded into the slice."""

    def __init__(self, weight: float, features: torch.Tensor):
        self.lattice = PermutohedralLattice(features)
        mass = self.lattice(torch.ones(features.shape[0], 1))
        self.lattice.scale_output(weight / mass.clamp_min(1e-20))


class DenseCRF:
    """Mean-field inference of the fully connected CRF for one image; see the module docstring.

    ``DenseCRF(**params)(probs, image)``: ``probs`` (C, H, W) class probabilities, ``image`` (H, W, 3) uint8 (any
    channel order: only colour distances matter). Returns the (C, H, W) marginals Q.
    """

    def __init__(self, **params):
        self.params = CRFParams(**params)

    def __call__(self, probs: torch.Tensor, image) -> torch.Tensor:
        probs, colours = self._check(probs, image)
        c, h, w = probs.shape
        p = self.params
        log_p = probs.permute(1, 2, 0).reshape(h * w, c).clamp_min(p.min_prob).log()
        lattices, smoothness = self._kernels(colours, h, w)
        q = torch.softmax(log_p, 1)
        if not lattices and smoothness is None:
            return q.reshape(h, w, c).permute(2, 0, 1).contiguous()
        # Softmax is shift-invariant: shifting every pixel's logits by its largest unary plus the total positive
        # pairwise weight bounds them by 0 from above and by -(total |weight|) at the pixel's best label, so a
        # plain exp and normalisation is exact and cannot overflow or lose the best label (unless the weights
        # are absurd, when the max-subtracting softmax is used).
        weights = (p.bilateral_weight, p.gaussian_weight)
        shift = log_p.amax(1, keepdim=True) + sum(max(wt, 0.0) for wt in weights)
        plain_exp = sum(abs(wt) for wt in weights) < 60.0
        log_p = log_p.sub_(shift).view(h, w, c)
        for _ in range(p.iterations):
            q = self._mean_field_step(q, log_p, lattices, smoothness, plain_exp)
        return q.reshape(h, w, c).permute(2, 0, 1).contiguous()

    @staticmethod
    def _mean_field_step(q, log_p, lattices, smoothness, plain_exp: bool) -> torch.Tensor:
        """softmax(log P + sum of the normalised, weighted filterings of q): the lattice kernels over the whole
        image, then band of rows by band, while it is in cache, the unary, the separable kernel and the softmax.
        ``q`` is (H * W, C), ``log_p`` (H, W, C); returns the new (H * W, C) q."""
        h, w, c = log_p.shape
        logits = torch.zeros_like(q) if not lattices else lattices[0].lattice(q)
        for kernel in lattices[1:]:
            logits += kernel.lattice(q)
        q3, logits3 = q.view(h, w, c), logits.view(h, w, c)
        for top in range(0, h, BAND_ROWS):
            bottom = min(top + BAND_ROWS, h)
            band = logits3[top:bottom].add_(log_p[top:bottom])
            if smoothness is not None:
                smoothness.add_rows(q3, logits3, top, bottom)
            if plain_exp:
                band.exp_()
                band.div_(band.sum(2, keepdim=True))
            else:
                band.copy_(torch.softmax(band, 2))
        return logits

    def _kernels(self, colours: torch.Tensor, h: int, w: int) -> tuple[list, _Smoothness | None]:
        """The kernels filtered on a lattice, and the separable smoothness kernel (None when off or too wide)."""
        p = self.params
        grid = _pixel_grid(h, w)
        lattices, smoothness = [], None
        if p.bilateral_weight != 0:
            features = torch.cat([grid / p.bilateral_xy_std, colours / p.bilateral_rgb_std], 1)
            lattices.append(_Appearance(p.bilateral_weight, features))
        if p.gaussian_weight != 0:
            if math.ceil(3 * p.gaussian_xy_std) <= MAX_SEPARABLE_RADIUS:
                smoothness = _Smoothness(p.gaussian_weight, p.gaussian_xy_std, h, w)
            else:
                lattices.append(_Appearance(p.gaussian_weight, grid / p.gaussian_xy_std))
        return lattices, smoothness

    @staticmethod
    def _check(probs, image) -> tuple[torch.Tensor, torch.Tensor]:
        probs = torch.as_tensor(probs).detach().to('cpu', torch.float32)
        image = torch.as_tensor(np.asarray(image) if not isinstance(image, torch.Tensor) else image).detach().cpu()
        if probs.ndim != 3:
            raise ValueError(f'CRF: probs must be (classes, height, width), got shape {tuple(probs.shape)}')
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'CRF: image must be (height, width, 3) colour, got shape {tuple(image.shape)}; '
                             'convert grayscale (replicate) or RGBA (drop alpha) first')
        if tuple(image.shape[:2]) != tuple(probs.shape[1:]):
            raise ValueError(f'CRF: image size {tuple(image.shape[:2])} differs from the probability map size '
                             f'{tuple(probs.shape[1:])}')
        return probs, image.reshape(-1, 3).to(torch.float64)


def dense_crf(probs, image, **params) -> torch.Tensor:
    """Marginals (C, H, W) of the fully connected CRF over ``probs`` (C, H, W) and ``image`` (H, W, 3)."""
    return DenseCRF(**params)(probs, image)
