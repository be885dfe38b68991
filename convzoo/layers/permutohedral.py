"""Permutohedral lattice: Gaussian filtering in a d-dimensional feature space in time linear in the points.

Adams, Baek and Davis, "Fast High-Dimensional Filtering Using the Permutohedral Lattice", Eurographics 2010; the
filter behind the fully connected CRF of Krähenbühl and Koltun (NIPS 2011) and DeepLab (TPAMI 2017).

Every point's feature vector f (already divided by the kernel widths) is lifted onto the hyperplane x·1 = 0 of
R^(d+1), which the lattice tiles with simplices. Filtering a value vector v per point is then

    splat  each value onto the d+1 vertices of its enclosing simplex with barycentric weights,
    blur   every lattice vertex with its two neighbours along each of the d+1 lattice axes (weights 1/2, 1, 1/2),
    slice  read the blurred vertex values back with the same barycentric weights,

which approximates  out_i = sum_j exp(-|f_i - f_j|^2 / 2) v_j  (the approximation spreads isolated points: the
self weight is below 1). The lattice is built once per feature set and reused. Each of the three steps is a
weighted gather of rows, run as ``torch.nn.functional.embedding_bag`` (vectorised, multi-threaded); vertex hashing
sorts packed integer keys with NumPy. No compiled extension is involved.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

MAX_CODE_BITS = 52  # vertex keys are packed into one integer, computed exactly in float64


def _elevation_matrix(d: int) -> torch.Tensor:
    """(d+1) x d matrix lifting features onto x·1 = 0, scaled so that the blur is a unit-variance Gaussian."""
    lift = torch.zeros(d + 1, d, dtype=torch.float64)
    for row in range(d + 1):
        lift[row, row:] = 1.0
        if row > 0:
            lift[row, row - 1] = -float(row)
    scale = math.sqrt(2.0 / 3.0) * (d + 1) / torch.sqrt(torch.arange(1, d + 1, dtype=torch.float64)
                                                         * torch.arange(2, d + 2, dtype=torch.float64))
    return lift * scale


def _enclosing_simplex(elevated: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per point: the nearest remainder-0 lattice point (d+1 coordinates, as columns) and the rank of each
    coordinate's residual, which together name the enclosing simplex."""
    d1 = elevated.shape[1]
    columns = elevated.T.contiguous()
    rounded = torch.round(columns / d1)
    off_plane = rounded.sum(0).to(torch.int16)
    rem0 = rounded.mul_(d1)
    residual = columns.sub_(rem0)
    rank = off_plane.expand(d1, -1).clone()  # int16: ranks lie in [-d1, 2 d1)
    for i in range(d1):  # rank[i] = number of coordinates with a larger residual (ties: the lower index ranks first)
        for j in range(i + 1, d1):
            j_larger = residual[j] > residual[i]
            rank[i] += j_larger
            rank[j] += ~j_larger
    wrap = (rank > d1 - 1).to(torch.int16) - (rank < 0).to(torch.int16)  # bring the point back onto the plane
    rank -= d1 * wrap
    rem0 -= d1 * wrap
    return rem0, rank.long()


def _barycentric(elevated: torch.Tensor, rem0: torch.Tensor, rank: torch.Tensor) -> torch.Tensor:
    """(n, d+1) barycentric weights of each point in its simplex, in remainder order."""
    d1, n = rank.shape
    part = ((elevated.T - rem0) / d1).T
    bary = torch.zeros(n, d1 + 1, dtype=torch.float64)
    bary.scatter_add_(1, (d1 - 1 - rank).T, part)
    bary.scatter_add_(1, (d1 - rank).T, -part)
    bary[:, 0] += 1.0 + bary[:, d1]
    return bary[:, :d1]


def _upper_neighbours(vertex_codes: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Along the lattice axis with code step ``step``: the code ranks ``found`` of the vertices that have an upper
    neighbour, and those neighbours' code ranks (``vertex_codes`` is sorted)."""
    upper_query = vertex_codes + abs(step)  # sorted, so the search walks forward
    pos = np.minimum(np.searchsorted(vertex_codes, upper_query), len(vertex_codes) - 1)
    found = np.flatnonzero(vertex_codes[pos] == upper_query)
    return pos[found], found


class PermutohedralLattice:
    """Gaussian filter ``out_i ≈ sum_j exp(-|f_i - f_j|^2 / 2) v_j`` over the points of ``features`` (n x d).

    Divide each feature dimension by its kernel width before building. ``lattice(values)`` filters an (n, c)
    tensor; ``num_vertices`` is the lattice size (the work of one filtering is linear in n and in it).
    """

    def __init__(self, features: torch.Tensor):
        if features.ndim != 2 or features.shape[0] == 0 or features.shape[1] == 0:
            raise ValueError(f'features must be an (n, d) tensor with n, d > 0, got shape {tuple(features.shape)}')
        if not torch.isfinite(features).all():
            raise ValueError('features contain NaN or infinite values')
        feats = features.detach().to('cpu', torch.float64)
        n, d = feats.shape
        elevated = feats @ _elevation_matrix(d).T
        rem0, rank = _enclosing_simplex(elevated)
        weights = _barycentric(elevated, rem0, rank).to(torch.float32)
        codes, axis_steps, code_bits = self._vertex_codes(rem0[:d].long(), rank[:d])
        vertex_codes, vertex_of, order = self._hash(codes.ravel(), code_bits)
        self.num_points, self.dim, self.num_vertices = n, d, len(vertex_codes)
        # the neighbour searches (NumPy, GIL released) run in the background while the splat is laid out; a pool
        # per lattice, so that nothing is left over in a forked worker process
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix='lattice-search') as pool:
            searches = [pool.submit(_upper_neighbours, vertex_codes, step) for step in axis_steps]
            renumber, by_first_touch = self._lay_out_splat(vertex_of, order, weights)
            self._blur = [self._blur_taps(*search.result(), renumber, by_first_touch) for search in searches]
        self._slice_index = torch.from_numpy(renumber[vertex_of]).view(n, d + 1)
        self._slice_weight = weights * (1.0 / (1.0 + 2.0 ** -d))  # Adams et al.'s slice normalisation

    def _lay_out_splat(self, vertex_of: np.ndarray, order: np.ndarray, weights: torch.Tensor
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Number the vertices in the order the points first touch them (raster order for images), so that the
        vertices of nearby points sit nearby in memory and the gathers of slice and blur mostly hit the cache; lay
        out the splat as one bag of (point, weight) entries per vertex. Returns the renumbering (code rank ->
        vertex) and its inverse."""
        counts = np.bincount(vertex_of, minlength=self.num_vertices)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        by_first_touch = np.argsort(np.minimum.reduceat(order, starts))
        renumber = np.empty(self.num_vertices, dtype=np.int32)
        renumber[by_first_touch] = np.arange(self.num_vertices, dtype=np.int32)
        new_starts = np.concatenate([[0], np.cumsum(counts[by_first_touch])[:-1]])
        moved = np.repeat(new_starts[renumber] - starts, counts) + np.arange(len(order))
        grouped = np.empty_like(order)
        grouped[moved] = order  # entries in code order -> entries grouped by the new vertex numbers
        grouped = torch.from_numpy(grouped)
        self._splat_index = (grouped // (self.dim + 1)).to(torch.int32)
        self._splat_weight = weights.view(-1)[grouped].contiguous()
        self._splat_offsets = torch.from_numpy(new_starts.astype(np.int32))
        return renumber, by_first_touch

    def scale_output(self, scale: torch.Tensor) -> None:
        """Multiply every point's filtered output by ``scale`` (n or (n, 1)), folded into the slice weights so that
        a per-point normalisation costs nothing per filtering."""
        self._slice_weight = (self._slice_weight * scale.reshape(-1, 1).to(torch.float32)).contiguous()

    @staticmethod
    def _vertex_codes(rem0: torch.Tensor, rank: torch.Tensor) -> tuple[np.ndarray, list[int], int]:
        """(n, d+1) int64 codes of every point's simplex vertices, the code step along each lattice axis, and the
        number of bits the codes need.

        A vertex key is rem0 + the canonical simplex offset (remainder r: +r where rank <= d - r, else
        r - (d+1)), packed in mixed radix. Each digit has a margin of d+1 on both sides, so a neighbour's code is
        the vertex code plus a constant step per axis and sorted codes stay sorted when shifted.
        """
        d = rem0.shape[0]
        low = rem0.amin(1) - 2 * d - 1
        span = rem0.amax(1) - low + 2 * d + 2
        bits = float(torch.log2(span.double()).sum())
        if bits > MAX_CODE_BITS:
            raise ValueError(f'feature range too large for the lattice ({bits:.0f} bits of keys > {MAX_CODE_BITS}); '
                             'use wider kernels or a smaller feature range')
        radix = torch.cumprod(torch.cat([torch.ones(1, dtype=torch.long), span[:-1]]), 0)
        radix_f = radix.double()  # exact: codes stay below 2^53
        base = (rem0 - low[:, None]).double().T @ radix_f
        codes = torch.empty(rem0.shape[1], d + 1, dtype=torch.float64)
        for r in range(d + 1):
            wraps = (rank > d - r).double().T @ radix_f
            codes[:, r] = base + r * radix_f.sum() - (d + 1) * wraps
        steps = []
        for axis in range(d + 1):  # neighbour along an axis: key - 1 everywhere, + (d+1) on the axis coordinate
            step = -radix.sum()
            if axis < d:
                step = step + (d + 1) * radix[axis]
            steps.append(int(step))
        code_bits = (math.prod(int(x) for x in span) - 1).bit_length()  # codes < the product of the spans
        return codes.long().numpy(), steps, code_bits

    @staticmethod
    def _hash(codes: np.ndarray, code_bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sorted distinct codes, the vertex index of every entry, and the entries' order by code.

        When code and entry index fit in 64 bits together, they are packed into one integer and sorted by value
        (NumPy's value sort is several times faster than ``argsort``); otherwise ``argsort``.
        """
        index_bits = max(int(len(codes) - 1).bit_length(), 1)
        if code_bits + index_bits <= 64:
            packed = np.sort((codes.astype(np.uint64) << np.uint64(index_bits))
                             | np.arange(len(codes), dtype=np.uint64))
            order = (packed & np.uint64((1 << index_bits) - 1)).astype(np.int64)
            ordered = (packed >> np.uint64(index_bits)).astype(np.int64)
        else:
            order = np.argsort(codes)
            ordered = codes[order]
        is_new = np.empty(len(codes), dtype=bool)
        is_new[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=is_new[1:])
        vertex_of = np.empty(len(codes), dtype=np.int32)
        vertex_of[order] = np.cumsum(is_new, dtype=np.int32) - 1
        return ordered[is_new], vertex_of, order

    def _blur_taps(self, upper_of: np.ndarray, found: np.ndarray, renumber: np.ndarray,
                   by_first_touch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Blur taps along one axis: (m, 3) int32 indices [lower neighbour, self, upper neighbour] and their
        weights (1/2, 1, 1/2); an absent neighbour points at the vertex itself with weight 0. ``upper_of[found]``
        are the upper neighbours in code order; returned in the vertex numbering (``renumber``: code rank ->
        vertex)."""
        upper, lower = renumber.copy(), renumber.copy()
        upper[found] = renumber[upper_of]
        lower[upper_of] = renumber[found]  # v is u's lower neighbour exactly when u is v's upper one
        index = torch.stack([torch.from_numpy(lower[by_first_touch]),
                             torch.arange(self.num_vertices, dtype=torch.int32),
                             torch.from_numpy(upper[by_first_touch])], 1)
        weight = torch.stack([(index[:, 0] != index[:, 1]).float() * 0.5, torch.ones(self.num_vertices),
                              (index[:, 2] != index[:, 1]).float() * 0.5], 1)
        return index, weight

    def __call__(self, values: torch.Tensor) -> torch.Tensor:
        """Filter (n, c) values; returns (n, c) float32."""
        if values.ndim != 2 or values.shape[0] != self.num_points:
            raise ValueError(f'values must be ({self.num_points}, c), got {tuple(values.shape)}')
        values = values.to(torch.float32).contiguous()
        lattice = F.embedding_bag(self._splat_index, values, self._splat_offsets,
                                  per_sample_weights=self._splat_weight, mode='sum')
        for index, weight in self._blur:
            lattice = F.embedding_bag(index, lattice, per_sample_weights=weight, mode='sum')
        return F.embedding_bag(self._slice_index, lattice, per_sample_weights=self._slice_weight, mode='sum')
