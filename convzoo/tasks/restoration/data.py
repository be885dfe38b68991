"""Paired-image data for restoration: a dataset of LQ/GT pairs matched by name (or GT only, degraded on the fly),
and transforms that keep the two images aligned. Images travel as float32 H x W x 3 RGB arrays in [0, 1], so
16-bit files keep their precision; grayscale and RGBA files are converted and the conversion is noted.
"""
from __future__ import annotations

import os
import os.path as osp
import zlib

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmengine.structures import BaseDataElement

from convzoo.core.embedded import GeneratesEmbeddedData
from convzoo.core.errors import PairError
from convzoo.core.images import IMAGE_EXTENSIONS, read_unchanged
from convzoo.core.registry import DATASETS, TRANSFORMS
from convzoo.tasks.restoration import degradations as deg


def read_rgb_float(path: str) -> tuple[np.ndarray, list[str]]:
    """Read an image as float32 RGB in [0, 1]; 8/16-bit, gray, gray+alpha, RGB(A) accepted."""
    img = read_unchanged(path, PairError)
    notes = []
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    elif img.dtype == np.uint16:
        img, notes = img.astype(np.float32) / 65535.0, notes + ['16-bit']
    elif img.dtype in (np.float32, np.float64):
        img = np.clip(img, 0, 1).astype(np.float32)
    else:
        raise PairError(f'{path}: unsupported pixel type {img.dtype}')
    if img.ndim == 3 and img.shape[2] in (2, 4):
        img, notes = img[..., :img.shape[2] - 1], notes + ['alpha channel dropped']
    if img.ndim == 2 or img.shape[2] == 1:
        img, notes = np.repeat(img.reshape(*img.shape[:2], 1), 3, axis=2), notes + ['grayscale to RGB']
    elif img.shape[2] == 3:
        img = img[..., ::-1]  # OpenCV's BGR -> RGB
    else:
        raise PairError(f'{path}: expected 1, 2, 3 or 4 channels, got {img.shape[2]}')
    return np.ascontiguousarray(img), notes


def _images_in(folder: str, extensions=IMAGE_EXTENSIONS) -> dict[str, str]:
    if not osp.isdir(folder):
        raise PairError(f'{folder}: image folder does not exist')
    found = {osp.splitext(f)[0]: osp.join(folder, f) for f in sorted(os.listdir(folder))
             if osp.splitext(f)[1].lower() in extensions}
    if not found:
        raise PairError(f'{folder}: contains no images ({", ".join(extensions)})')
    return found


def read_depth(path: str) -> np.ndarray:
    """A depth map as H x W float32: ``.npy`` as stored, 8/16-bit images scaled to [0, 1] (first channel)."""
    if path.endswith('.npy'):
        try:
            depth = np.load(path)
        except (OSError, ValueError) as err:
            raise PairError(f'{path}: cannot be read as a depth map ({err})') from None
    else:
        depth = read_unchanged(path, PairError, 'a depth map')
        depth = depth / (65535.0 if depth.dtype == np.uint16 else 255.0 if depth.dtype == np.uint8 else 1.0)
    depth = depth[..., 0] if depth.ndim == 3 else depth
    if depth.ndim != 2 or not np.isfinite(depth).all():
        raise PairError(f'{path}: a depth map must be a finite H x W array, got shape {depth.shape}')
    return depth.astype(np.float32)


@DATASETS.register_module()
class PairedImageDataset(GeneratesEmbeddedData, BaseDataset):
    """LQ/GT pairs from two folders under ``data_root``, or GT images only (``lq_folder=None``; the pipeline then
    makes the LQ image with a degradation transform).

    Args:
        gt_folder, lq_folder: folders relative to ``data_root``.
        scale: GT size / LQ size (1 for denoising and dehazing).
        match: 'name' -- same file stem, optionally with ``lq_suffix`` appended to the LQ stem (DIV2K's 'x3');
            'prefix' -- several LQ files per GT, the LQ stem up to its first '_' names the GT (RESIDE:
            ``hazy/1_1_0.90179.png`` -> ``clear/1.png``).
        depth_folder: optional depth maps with the GT's stem (``.npy`` float arrays, or 8/16-bit images scaled to
            [0, 1]), read by ``LoadImagePair`` for ``AddHaze(depth='map')``.
    A GT without its LQ (or an LQ without its GT, or its depth map) is an error naming the file, never silently
    dropped. A ``data_root`` naming an embedded dataset (``data/embedded/sr_photos``, ...) is generated first when
    missing.
    """

    def __init__(self, data_root: str, gt_folder: str = 'gt', lq_folder: str | None = None, scale: int = 1,
                 match: str = 'name', lq_suffix: str = '', depth_folder: str | None = None, **kwargs):
        if match not in ('name', 'prefix'):
            raise ValueError(f"PairedImageDataset: match must be 'name' or 'prefix', got {match!r}")
        self.gt_folder, self.lq_folder, self.scale = gt_folder, lq_folder, scale
        self.match, self.lq_suffix, self.depth_folder = match, lq_suffix, depth_folder
        super().__init__(data_root=data_root, **kwargs)

    def _info(self, name: str, gt_path: str, lq_path: str | None) -> dict:
        info = dict(name=name, gt_path=gt_path, lq_path=lq_path, scale=self.scale)
        if self.depth_folder is not None:
            stem = osp.splitext(osp.basename(gt_path))[0]
            depth = self._depths.get(stem)
            if depth is None:
                raise PairError(f'{gt_path}: its depth map {stem}.* is missing from '
                                f'{osp.join(self.data_root, self.depth_folder)}')
            info['depth_path'] = depth
        return info

    def load_data_list(self) -> list[dict]:
        if self.depth_folder is not None:
            self._depths = _images_in(osp.join(self.data_root, self.depth_folder), IMAGE_EXTENSIONS + ('.npy',))
        gts = _images_in(osp.join(self.data_root, self.gt_folder))
        if self.lq_folder is None:
            return [self._info(stem, path, None) for stem, path in gts.items()]
        lq_dir = osp.join(self.data_root, self.lq_folder)
        lqs = _images_in(lq_dir)
        if self.match == 'prefix':
            infos = []
            for stem, path in lqs.items():
                gt = gts.get(stem.split('_')[0])
                if gt is None:
                    raise PairError(f'{path}: no GT image {stem.split("_")[0]}.* in '
                                    f'{osp.join(self.data_root, self.gt_folder)}')
                infos.append(self._info(stem, gt, path))
            return infos
        infos = []
        for stem, path in gts.items():
            lq = lqs.pop(stem + self.lq_suffix, None)
            if lq is None:
                raise PairError(f'{path}: its LQ image {stem}{self.lq_suffix}.* is missing from {lq_dir}')
            infos.append(self._info(stem, path, lq))
        if lqs:
            raise PairError(f'{next(iter(lqs.values()))}: LQ image without a GT image in '
                            f'{osp.join(self.data_root, self.gt_folder)} ({len(lqs)} such file(s))')
        return infos


@TRANSFORMS.register_module()
class LoadImagePair(BaseTransform):
    """Read ``gt`` and (if given) ``lq``; check that GT = scale x LQ in size.

    A GT at most ``scale - 1`` pixels larger per side is cropped bottom/right to scale x LQ (the usual convention
    when the HR side is not a multiple of the scale); anything else is an error naming both files.
    ``cache=True`` keeps decoded images in memory (small training sets that are cropped many times per image).
    """

    def __init__(self, cache: bool = False):
        self.cache = {} if cache else None

    def _read(self, path: str) -> tuple[np.ndarray, list[str]]:
        if self.cache is None:
            return read_rgb_float(path)
        if path not in self.cache:
            self.cache[path] = read_rgb_float(path)
        img, notes = self.cache[path]
        return img, list(notes)

    def transform(self, results: dict) -> dict:
        results['gt'], notes = self._read(results['gt_path'])
        if results.get('lq_path'):
            results['lq'], lq_notes = self._read(results['lq_path'])
            notes += [f'LQ {n}' for n in lq_notes]
            results['gt'] = self._aligned_gt(results['gt'], results['lq'], results)
        if results.get('depth_path'):
            path = results['depth_path']
            depth = self.cache.get(path) if self.cache is not None else None
            if depth is None:
                depth = read_depth(path)
                if self.cache is not None:
                    self.cache[path] = depth
            results['depth'] = depth
        results['notes'] = notes
        return results

    @staticmethod
    def _aligned_gt(gt, lq, results):
        scale = results.get('scale', 1)
        (gh, gw), (lh, lw) = gt.shape[:2], lq.shape[:2]
        if (gh // scale, gw // scale) != (lh, lw):
            raise PairError(f'{results["gt_path"]} ({gw}x{gh}) and {results["lq_path"]} ({lw}x{lh}) do not '
                            f'pair at scale {scale}: GT should be {lw * scale}x{lh * scale}')
        return gt[:lh * scale, :lw * scale]


class _MakeLQ(BaseTransform):
    """Base of the degradations: make ``lq`` from ``gt`` (the GT is cropped to a multiple of the scale)."""

    scale = 1

    def degrade(self, gt: np.ndarray, results: dict) -> np.ndarray:
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        results['gt'] = deg.mod_crop(results['gt'], self.scale)
        results['lq'] = self.degrade(results['gt'], results)
        results['scale'] = self.scale
        return results


@TRANSFORMS.register_module()
class BicubicDownscale(_MakeLQ):

    def __init__(self, scale: int):
        self.scale = scale

    def degrade(self, gt, results):
        return deg.bicubic_downscale(gt, self.scale)


@TRANSFORMS.register_module()
class BlurDownscale(_MakeLQ):
    """Gaussian blur (sigma, default 0.4 r) then subsampling: the ESPCN paper's degradation."""

    def __init__(self, scale: int, sigma: float | None = None):
        self.scale, self.sigma = scale, sigma

    def degrade(self, gt, results):
        return deg.blur_downscale(gt, self.scale, self.sigma)


def _rng(seed: int | None, results: dict) -> np.random.Generator:
    """Training (``seed=None``): a fresh stream drawn from NumPy's global generator, which mmengine seeds from
    ``randomness.seed`` (per dataloader worker too), so a seeded run repeats; evaluation: a fixed stream per image
    name."""
    if seed is None:
        return np.random.default_rng(np.random.randint(0, 2 ** 32, size=2, dtype=np.uint64))
    return np.random.default_rng([seed, zlib.crc32(results['name'].encode())])


def _draw(rng: np.random.Generator, value, name: str) -> float:
    """A fixed number, or a uniform draw from a (low, high) range."""
    if isinstance(value, (int, float)):
        return float(value)
    if len(value) != 2 or value[0] > value[1]:
        raise ValueError(f'AddHaze: {name} must be a number or a (low, high) range, got {value!r}')
    return float(rng.uniform(*value))


@TRANSFORMS.register_module()
class AddGaussianNoise(_MakeLQ):
    """White Gaussian noise of std ``sigma`` (0-255 scale; a list: one drawn per sample).

    ``seed=None`` draws fresh noise every time (training); an int gives every image its own fixed noise,
    seeded from the seed and the image name, so evaluation is repeatable and independent of the order.
    """

    def __init__(self, sigma: float | list[float], seed: int | None = None):
        self.sigmas = list(sigma) if isinstance(sigma, (list, tuple)) else [sigma]
        self.seed = seed

    def degrade(self, gt, results):
        rng = _rng(self.seed, results)
        sigma = self.sigmas[rng.integers(len(self.sigmas))]
        results['noise_sigma'] = float(sigma)
        return deg.add_gaussian_noise(gt, sigma, rng)


@TRANSFORMS.register_module()
class AddHaze(_MakeLQ):
    """Haze by the atmospheric scattering model ``I = J t + A (1 - t)``, ``t = exp(-beta d)``.

    Args:
        beta: scattering coefficient, a number or a (low, high) range drawn per sample.
        airlight: A (gray), a number or a (low, high) range drawn per sample.
        depth: 'map' -- ``results['depth']`` (H x W, e.g. loaded by ``LoadImagePair`` from the dataset's
            ``depth_folder``); for images whose depth is unknown, a smooth synthetic depth: 'random' -- linear in
            depth (:func:`degradations.random_depth`, with ``near``/``far`` ranges), or 'random_inverse' -- linear
            in disparity (:func:`degradations.random_inverse_depth`, depth in [1/r, 1], r drawn from
            ``disparity_ratio``), which puts most of the image near the camera, as real scenes are.
        seed: None draws fresh haze every time (training); an int gives every image its own fixed haze, seeded
            from the seed and the image name (evaluation: repeatable, independent of the order).
    The drawn ``haze_beta`` and ``haze_airlight`` are recorded in the results.
    """

    DEPTHS = ('map', 'random', 'random_inverse')

    def __init__(self, beta=(0.5, 2.0), airlight=(0.7, 1.0), depth: str = 'random', near=(0.1, 0.3),
                 far=(0.6, 1.0), disparity_ratio=(2.0, 10.0), seed: int | None = None):
        if depth not in self.DEPTHS:
            raise ValueError(f'AddHaze: depth must be one of {self.DEPTHS}, got {depth!r}')
        self.beta, self.airlight, self.depth, self.near, self.far, self.seed = beta, airlight, depth, near, far, seed
        self.disparity_ratio = disparity_ratio

    def degrade(self, gt, results):
        rng = _rng(self.seed, results)
        if self.depth == 'map':
            if 'depth' not in results:
                raise PairError(f'{results["gt_path"]}: AddHaze(depth=\'map\') needs a depth map; give the '
                                'dataset a depth_folder or use depth=\'random\'')
            depth = results['depth']
            if depth.shape != gt.shape[:2]:
                raise PairError(f'{results.get("depth_path", results["gt_path"])}: depth map {depth.shape[1]}x'
                                f'{depth.shape[0]} does not match the image {gt.shape[1]}x{gt.shape[0]}')
        elif self.depth == 'random':
            depth = deg.random_depth(gt.shape[:2], rng, self.near, self.far)
        else:
            depth = deg.random_inverse_depth(gt.shape[:2], rng, self.disparity_ratio)
        beta, airlight = _draw(rng, self.beta, 'beta'), _draw(rng, self.airlight, 'airlight')
        results['haze_beta'], results['haze_airlight'] = beta, airlight
        return deg.add_haze(gt, depth, beta, airlight)


@TRANSFORMS.register_module()
class PairedRandomCrop(BaseTransform):
    """Random aligned crop: ``gt_size`` x ``gt_size`` from GT and the matching LQ patch (gt_size / scale).

    Without an LQ image yet (GT only, degraded on the fly by a later transform) it crops the GT alone; a depth map
    (``results['depth']``, GT-sized) is cropped with the GT, so that haze added after the crop stays aligned.
    """

    def __init__(self, gt_size: int):
        self.gt_size = gt_size

    def transform(self, results: dict) -> dict:
        scale = results.get('scale', 1) if 'lq' in results else 1
        if self.gt_size % scale:
            raise ValueError(f'PairedRandomCrop: gt_size {self.gt_size} is not a multiple of the scale {scale}')
        lq_size = self.gt_size // scale
        key = 'lq' if 'lq' in results else 'gt'
        lh, lw = results[key].shape[:2]
        if lh < lq_size or lw < lq_size:
            raise PairError(f'{results.get("lq_path") or results["gt_path"]}: {key.upper()} image {lw}x{lh} is '
                            f'smaller than the training patch {lq_size}x{lq_size}')
        top, left = np.random.randint(lh - lq_size + 1), np.random.randint(lw - lq_size + 1)
        if 'lq' in results:
            results['lq'] = results['lq'][top:top + lq_size, left:left + lq_size]
        gt_rows, gt_cols = slice(top * scale, (top + lq_size) * scale), slice(left * scale, (left + lq_size) * scale)
        results['gt'] = results['gt'][gt_rows, gt_cols]
        if results.get('depth') is not None:
            results['depth'] = results['depth'][gt_rows, gt_cols]
        return results


@TRANSFORMS.register_module()
class PairedRandomDihedral(BaseTransform):
    """One of the 8 flips/rotations by 90 degrees, drawn uniformly and applied to LQ and GT alike."""

    def transform(self, results: dict) -> dict:
        transpose, hflip, vflip = np.random.rand(3) < 0.5
        for key in ('lq', 'gt'):
            img = results[key]
            img = img.transpose(1, 0, 2) if transpose else img
            img = img[:, ::-1] if hflip else img
            img = img[::-1] if vflip else img
            results[key] = np.ascontiguousarray(img)
        return results


def to_chw_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackRestorationInputs(BaseTransform):
    """``inputs``: LQ (3, h, w) float tensor; ``data_samples.gt_img``: GT (3, H, W) when present."""

    META_KEYS = ('name', 'gt_path', 'lq_path', 'scale', 'notes', 'noise_sigma', 'haze_beta', 'haze_airlight')

    def transform(self, results: dict) -> dict:
        sample = BaseDataElement(metainfo={k: results[k] for k in self.META_KEYS if k in results})
        if 'gt' in results:
            sample.gt_img = to_chw_tensor(results['gt'])
        return dict(inputs=to_chw_tensor(results['lq']), data_samples=sample)
