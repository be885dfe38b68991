"""The embedded COCO-format dataset: deterministic, well-formed, exact boxes, several scales."""
import json

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from convzoo.tasks.detection.coco_validation import validate_coco_file
from convzoo.tasks.detection.shapes import CLASSES, write_coco_split


def test_generation_is_deterministic(tmp_path):
    a = write_coco_split(tmp_path / 'a', 'train', 4, seed=3, size_range=(8, 40))
    b = write_coco_split(tmp_path / 'b', 'train', 4, seed=3, size_range=(8, 40))
    assert a.read_text() == b.read_text()
    assert (tmp_path / 'a/train/00004.jpg').read_bytes() == (tmp_path / 'b/train/00004.jpg').read_bytes()


def test_dataset_is_valid_coco_with_boxes_inside_images_at_several_scales(shapes_root):
    for split in ('train', 'val'):
        data = validate_coco_file(shapes_root / f'annotations/{split}.json', shapes_root)
        assert [c['name'] for c in data['categories']] == list(CLASSES)
        sizes = {i['id']: (i['width'], i['height']) for i in data['images']}
        areas = []
        for ann in data['annotations']:
            x, y, w, h = ann['bbox']
            width, height = sizes[ann['image_id']]
            assert 0 <= x and 0 <= y and x + w <= width + 1e-3 and y + h <= height + 1e-3 and w > 0 and h > 0
            areas.append(w * h)
        areas = np.array(areas)
        assert (areas < 32 ** 2).mean() > 0.2 and (areas > 48 ** 2).mean() > 0.05  # small and large objects
        assert {a['category_id'] for a in data['annotations']} == {1, 2, 3}


@pytest.mark.parametrize('seed', range(6))
def test_boxes_are_tight_and_centred_on_the_drawn_shapes(seed):
    """On a flat background the changed pixels reach the box edges, overshooting only by the 1-px outline."""
    from convzoo.tasks.detection.shapes import render_image
    flat = [np.full((300, 300, 3), 127, np.uint8)]
    img, boxes, _ = render_image(np.random.default_rng(seed), flat, 160, (30, 60), max_objects=1)
    changed = np.argwhere(np.abs(img.astype(int) - 127).sum(2) > 30)
    (y1, x1), (y2, x2) = changed.min(0), changed.max(0) + 1  # pixel i spans [i, i + 1]
    bx1, by1, bx2, by2 = boxes[0]
    for lo, hi, blo, bhi in ((x1, x2, bx1, bx2), (y1, y2, by1, by2)):
        assert -2.0 <= lo - blo <= 0.5 and -0.5 <= hi - bhi <= 2.0  # outline straddles the edge
        assert abs((lo + hi) / 2 - (blo + bhi) / 2) <= 0.75  # no half-pixel shift of the box


def test_ground_truth_scored_against_itself_gives_ap_one(shapes_root):
    gt = COCO(str(shapes_root / 'annotations/val.json'))
    dets = [dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'], score=1.0)
            for a in gt.dataset['annotations']]
    ev = COCOeval(gt, gt.loadRes(dets), 'bbox')
    ev.evaluate(), ev.accumulate(), ev.summarize()
    assert abs(ev.stats[0] - 1.0) < 1e-6


def test_images_decode_as_rgb_of_the_declared_size(shapes_root):
    data = json.loads((shapes_root / 'annotations/val.json').read_text())
    img = cv2.imread(str(shapes_root / data['images'][0]['file_name']))
    assert img.shape == (data['images'][0]['height'], data['images'][0]['width'], 3)


def test_preflight_regenerates_embedded_data_of_an_older_version(tmp_path, monkeypatch):
    """A data root under data/embedded/ whose marker names an older generator version is rebuilt before training,
    not silently used (e.g. the dehazing set gained a depth map in version 2)."""
    from mmengine.config import Config

    from convzoo.cli.preflight import preflight
    from convzoo.core import embedded

    def write_one_file(root):
        (root / 'content.txt').write_text('v2')

    monkeypatch.setitem(embedded._BUILDERS, 'stale_probe', (write_one_file, '2'))
    monkeypatch.chdir(tmp_path)
    root = tmp_path / embedded.DEFAULT_ROOT / 'stale_probe'
    root.mkdir(parents=True)
    (root / 'content.txt').write_text('v1')
    (root / embedded.MARKER).write_text(json.dumps({'name': 'stale_probe', 'version': '1'}))
    cfg = Config(dict(train_dataloader=dict(dataset=dict(type='X', data_root='data/embedded/stale_probe'))))
    preflight(cfg, 'configs/probe.py')
    assert (root / 'content.txt').read_text() == 'v2'
    assert json.loads((root / embedded.MARKER).read_text())['version'] == '2'
