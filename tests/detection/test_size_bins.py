"""The tiny-object split of the embedded dataset and the AI-TOD size-bin COCO metric."""
import json

import numpy as np
import pytest
import torch

from convzoo.core.embedded import ensure_embedded, is_complete
from convzoo.tasks.detection.coco_validation import validate_coco_file
from convzoo.tasks.detection.size_bin_metric import AITOD_BINS, SizeBinCocoMetric

SIDES = {'vt': 5.0, 't': 12.0, 's_aitod': 24.0, 'm_aitod': 48.0}  # one object side per AI-TOD bin


@pytest.fixture(scope='module')
def tiny_root():
    return ensure_embedded('coco_shapes_tiny')


def test_tiny_split_is_valid_coco_with_every_object_under_16_px(tiny_root):
    for split in ('train', 'val'):
        data = validate_coco_file(tiny_root / 'annotations' / f'{split}.json', tiny_root)
        sides = np.sqrt([a['area'] for a in data['annotations']])
        assert len(sides) > 100 and sides.max() < 16 and sides.min() >= 4
        assert (sides < 8).mean() > 0.3 and (sides >= 8).mean() > 0.3  # both AI-TOD bins are populated
    assert is_complete(tiny_root, 'coco_shapes_tiny')


def write_gt(path, image_count=4):
    """Each image holds one object per size bin (class = bin index), spread over a 200x200 image."""
    images, annotations = [], []
    for image_id in range(1, image_count + 1):
        images.append(dict(id=image_id, file_name=f'{image_id}.jpg', width=200, height=200))
        for label, side in enumerate(SIDES.values()):
            x, y = 10 + 45 * label, 20 + 10 * image_id
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id, category_id=label + 1,
                                    bbox=[x, y, side, side], area=side * side, iscrowd=0))
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(SIDES)]
    path.write_text(json.dumps(dict(images=images, annotations=annotations, categories=categories)))
    return annotations


def evaluate(ann_file, annotations, drop_bin=None):
    """Detections equal to the ground truth, except those of ``drop_bin``."""
    metric = SizeBinCocoMetric(ann_file=str(ann_file))
    metric.dataset_meta = dict(classes=tuple(SIDES))
    names = list(SIDES)
    for image_id in sorted({a['image_id'] for a in annotations}):
        anns = [a for a in annotations if a['image_id'] == image_id and names[a['category_id'] - 1] != drop_bin]
        boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)]).reshape(-1, 4)
        pred = dict(bboxes=boxes.float(), scores=torch.ones(len(anns)),
                    labels=torch.tensor([a['category_id'] - 1 for a in anns], dtype=torch.long))
        metric.process({}, [dict(img_id=image_id, ori_shape=(200, 200), pred_instances=pred)])
    return metric.evaluate(size=len({a['image_id'] for a in annotations}))


def test_perfect_detections_score_one_in_every_bin_and_missed_tiny_objects_only_lower_their_bin(tmp_path):
    ann_file = tmp_path / 'gt.json'
    annotations = write_gt(ann_file)
    perfect = evaluate(ann_file, annotations)
    assert perfect['coco/bbox_mAP'] == 1.0
    assert all(perfect[f'coco/bbox_mAP_{name}'] == 1.0 for name in AITOD_BINS)
    missed = evaluate(ann_file, annotations, drop_bin='t')
    assert missed['coco/bbox_mAP_t'] == 0.0
    assert all(missed[f'coco/bbox_mAP_{name}'] == 1.0 for name in ('vt', 's_aitod', 'm_aitod'))
    assert missed['coco/bbox_mAP_s'] < 1.0  # COCO's "small" lumps the tiny objects in with the rest


def test_a_bin_without_ground_truth_reads_minus_one(tmp_path):
    ann_file = tmp_path / 'gt.json'
    annotations = [a for a in write_gt(ann_file) if a['category_id'] != 1]  # no very tiny object
    data = json.loads(ann_file.read_text())
    data['annotations'] = annotations
    ann_file.write_text(json.dumps(data))
    assert evaluate(ann_file, annotations)['coco/bbox_mAP_vt'] == -1.0

