"""Cityscapes: label preparation against cityscapesscripts, the embedded dataset, both evaluators agreeing on the
same predictions, and bad samples stopped with the file named."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from convzoo.core.errors import AnnotationError
from convzoo.tasks.segmentation.cityscapes import (
    CheckSegSample,
    CityscapesOfficialMetric,
    id_to_train_id_table,
    prepare_train_ids,
)
from convzoo.tasks.segmentation.embedded_cityscapes import render_scene, voc_people

ROOT = 'data/embedded/cityscapes_photos'


@pytest.fixture(scope='module')
def cityscapes_root():
    from convzoo.core.embedded import ensure_embedded
    return ensure_embedded('cityscapes_photos')


def write_polygons(path, height=40, width=60):
    objects = [dict(label='road', polygon=[[0, 20], [59, 20], [59, 39], [0, 39]]),
               dict(label='sky', polygon=[[0, 0], [59, 0], [59, 12], [0, 12]]),
               dict(label='car', polygon=[[10, 10], [30, 10], [30, 30], [10, 30]]),
               dict(label='license plate', polygon=[[15, 25], [20, 25], [20, 28], [15, 28]]),
               dict(label='ego vehicle', polygon=[[0, 35], [59, 35], [59, 39], [0, 39]])]
    path.write_text(json.dumps(dict(imgHeight=height, imgWidth=width, objects=objects)))


def test_train_ids_from_label_ids_match_the_official_preparation(tmp_path):
    """Where only labelIds exist, the conversion equals what cityscapesscripts makes from the polygons."""
    from cityscapesscripts.preparation.json2labelImg import json2labelImg
    city = tmp_path / 'gtFine' / 'val' / 'x'
    city.mkdir(parents=True)
    polygons = tmp_path / 'p.json'
    write_polygons(polygons)
    json2labelImg(str(polygons), str(city / 'x_000000_000000_gtFine_labelIds.png'), 'ids')
    json2labelImg(str(polygons), str(tmp_path / 'official.png'), 'trainIds')
    assert prepare_train_ids(tmp_path, log=lambda m: None) == 1
    ours = np.asarray(Image.open(city / 'x_000000_000000_gtFine_labelTrainIds.png'))
    official = np.asarray(Image.open(tmp_path / 'official.png'))
    assert np.array_equal(ours, official) and set(np.unique(ours)) >= {0, 10, 13, 255}
    assert prepare_train_ids(tmp_path, log=lambda m: None) == 0  # existing files are kept
    Image.fromarray(np.full((4, 4), 77, np.uint8)).save(city / 'x_000000_000000_gtFine_labelIds.png')
    with pytest.raises(AnnotationError, match=r'labelIds\.png: values \[77\] are not Cityscapes label ids'):
        prepare_train_ids(tmp_path, overwrite=True, log=lambda m: None)


def test_embedded_dataset_has_the_cityscapes_layout_and_consistent_labels(cityscapes_root):
    images = sorted(cityscapes_root.glob('leftImg8bit/*/*/*_leftImg8bit.png'))
    assert len(images) == 60
    table = id_to_train_id_table()
    for image_path in images[::7]:
        stem = str(image_path).replace('leftImg8bit', 'gtFine', 1).replace('_leftImg8bit.png', '_gtFine_')
        image = np.asarray(Image.open(image_path))
        label_ids = np.asarray(Image.open(stem + 'labelIds.png'))
        train_ids = np.asarray(Image.open(stem + 'labelTrainIds.png'))
        instances = np.asarray(Image.open(stem + 'instanceIds.png'))
        assert image.shape == (256, 512, 3) and label_ids.shape == train_ids.shape == instances.shape == (256, 512)
        assert np.array_equal(train_ids, table[label_ids])
        assert np.array_equal(np.where(instances >= 1000, instances // 1000, instances), label_ids)
        assert (train_ids == 255).any() and len(set(np.unique(train_ids)) - {255}) >= 6


def test_scenes_are_deterministic_and_labels_follow_the_pasted_pixels():
    from convzoo.core.embedded import bundled_photos
    photos, people = bundled_photos(), voc_people()
    a = render_scene(np.random.default_rng(5), photos, people)
    b = render_scene(np.random.default_rng(5), photos, people)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    flat = {name: np.full_like(photo, 10 * (i + 1)) for i, (name, photo) in enumerate(sorted(photos.items()))}
    image, label_ids, _ = render_scene(np.random.default_rng(5), flat, [(np.full((60, 20, 3), 3, np.uint8),
                                                                         np.ones((60, 20), bool))] * 2)
    for label_id in np.unique(label_ids):  # one flat colour per class: the labels are exactly the painted regions
        assert len(np.unique(image[label_ids == label_id].reshape(-1, 3), axis=0)) == 1


def evaluate_both(cityscapes_root, tmp_path, predictions):
    from mmengine.evaluator import Evaluator
    from mmseg.datasets import CityscapesDataset
    from mmseg.evaluation import IoUMetric
    evaluator = Evaluator([IoUMetric(iou_metrics=['mIoU']), CityscapesOfficialMetric(output_dir=str(tmp_path))])
    evaluator.dataset_meta = CityscapesDataset.METAINFO
    for seg_path, pred in predictions:
        gt = torch.from_numpy(np.asarray(Image.open(seg_path)).astype(np.int64))[None]
        sample = dict(img_path=seg_path.replace('gtFine', 'leftImg8bit').replace('_gtFine_labelTrainIds', '_leftImg8bit'),
                      seg_map_path=seg_path, gt_sem_seg=dict(data=gt), pred_sem_seg=dict(data=pred[None]))
        evaluator.process([sample], {})
    return evaluator.evaluate(len(predictions))


def test_iou_metric_and_the_official_evaluator_agree_on_the_same_predictions(cityscapes_root, tmp_path):
    rng = np.random.default_rng(0)
    predictions = []
    for seg_path in sorted(map(str, cityscapes_root.glob('gtFine/val/*/*_labelTrainIds.png')))[:4]:
        truth = torch.from_numpy(np.asarray(Image.open(seg_path)).astype(np.int64))
        pred = truth.clone()
        pred[pred == 255] = 0
        flip = torch.from_numpy(rng.random(truth.shape) < 0.2)
        pred[flip] = torch.from_numpy(rng.integers(0, 19, truth.shape))[flip]  # 20 % of pixels wrong
        predictions.append((seg_path, pred))
    metrics = evaluate_both(cityscapes_root, tmp_path, predictions)
    assert 20 < metrics['mIoU'] < 95
    assert metrics['cityscapes/mIoU'] == pytest.approx(metrics['mIoU'], abs=0.011)
    assert 'cityscapes/iIoU' in metrics and 'cityscapes/IoU.road' in metrics


def test_check_seg_sample_names_the_file():
    check = CheckSegSample(num_classes=19)
    img = np.zeros((4, 6, 3), np.uint8)
    ok = dict(img=img, ori_shape=(4, 6), gt_seg_map=np.full((4, 6), 255, np.uint8), img_path='a.png',
              seg_map_path='a_gt.png')
    passed = check(dict(ok))  # a valid sample goes through unchanged
    assert passed['img'] is img and np.array_equal(passed['gt_seg_map'], ok['gt_seg_map'])
    assert check(dict(ok, gt_seg_map=None))['img'] is img  # no label map (inference): only the image is checked
    with pytest.raises(AnnotationError, match=r'a_gt\.png: label map size 5x4 differs from its image a\.png \(6x4\)'):
        check(dict(ok, gt_seg_map=np.zeros((4, 5), np.uint8)))
    with pytest.raises(AnnotationError, match=r'a_gt\.png: label values \[19, 200\] are outside the classes 0-18'):
        check(dict(ok, gt_seg_map=np.array([[19, 200, 255, 0, 0, 0]] * 4, np.uint8)))
    with pytest.raises(AnnotationError, match=r'a_gt\.png: a label map must have one channel'):
        check(dict(ok, gt_seg_map=np.zeros((4, 6, 3), np.uint8)))
    with pytest.raises(AnnotationError, match=r'a\.png: expected a 3-channel colour image'):
        check(dict(ok, img=np.zeros((4, 6, 4), np.uint8)))


def test_train_and_test_tools_report_both_metrics_with_the_crf(cityscapes_root, run_tool, tmp_path):
    """A few iterations end to end with the user's commands, then the CRF config's test: both evaluators see the
    same (CRF-refined) predictions. (The demo in docs/segmentation.md compares with and without the CRF.)"""
    demo = 'configs/deeplab_v2/demo/deeplabv2_aspp-l_r101_cityscapes_demo.py'
    fast = ['train_cfg.max_iters=2', 'train_cfg.val_interval=100', 'param_scheduler.0.end=2',
            'default_hooks.checkpoint.interval=2', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False', 'train_dataloader.batch_size=2']
    run_tool('tools/train.py', demo, '--work-dir', str(tmp_path), '--cfg-options', *fast)
    checkpoint = str(tmp_path / 'iter_2.pth')
    small_test = ['test_dataloader.dataset.indices=2', 'test_dataloader.num_workers=0',
                  'test_dataloader.persistent_workers=False']
    out = tmp_path / 'crf'
    run_tool('tools/test.py', demo.replace('_demo.py', '_crf_demo.py'), checkpoint, '--work-dir', str(out),
             '--cfg-options', *small_test, f'test_evaluator.1.output_dir={out}/predictions',
             'test_evaluator.1.keep_results=True')
    metrics = json.loads((out / 'test_metrics.json').read_text())['metrics']
    assert metrics['cityscapes/mIoU'] == pytest.approx(metrics['mIoU'], abs=0.011)
    assert len(list((out / 'predictions').glob('*_leftImg8bit.png'))) == 2  # label-id PNGs for the evaluator
