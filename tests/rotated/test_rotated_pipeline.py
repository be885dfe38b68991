"""End to end on the embedded DOTA-format data: train (tools/train.py), evaluate with the DOTA metric on merged
full images (tools/test.py), infer on a large image, a folder and a video through the inference API."""
import json

import cv2
import numpy as np
import pytest

from convzoo.core.embedded import ensure_embedded

CONFIG = 'configs/arc/demo/arc_rotated_retinanet_r50_fpn_1x_dota_le90_demo.py'
TINY = ['train_dataloader.dataset.indices=8', 'val_dataloader.dataset.indices=8', 'train_cfg.max_epochs=1',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False', 'randomness.seed=0',
        'train_cfg.val_interval=100']  # no validation while training: tools/test.py evaluates
TINY_TEST = ['test_dataloader.dataset.indices=8', 'test_dataloader.num_workers=0',
             'test_dataloader.persistent_workers=False']


@pytest.fixture(scope='module')
def dota_root():
    return ensure_embedded('dota_objects')


@pytest.fixture(scope='module')
def trained(tmp_path_factory, run_tool, dota_root):
    work_dir = tmp_path_factory.mktemp('arc_rotated')
    run_tool('tools/train.py', CONFIG, '--work-dir', str(work_dir), '--cfg-options', *TINY)
    return work_dir, (work_dir / 'last_checkpoint').read_text().strip()


def test_embedded_dataset_is_dota_format_with_exact_polygons(dota_root):
    from convzoo.tasks.rotated.dota import DOTADataset, read_label_file
    from convzoo.tasks.rotated.embedded import CLASSES
    label = read_label_file(str(dota_root / 'train' / 'labelTxt' / 'P0000.txt'), CLASSES)
    corners = label.polygons.reshape(-1, 4, 2)
    sides = np.roll(corners, -1, axis=1) - corners
    assert np.abs((sides * np.roll(sides, -1, axis=1)).sum(-1)).max() < 0.05 * (sides ** 2).sum(-1).max()
    patches = DOTADataset(data_root=str(dota_root), ann_file='split_256/train/labelTxt',
                          data_prefix=dict(img='split_256/train/images'), img_suffix='jpg',
                          metainfo=dict(classes=CLASSES), pipeline=[])
    assert len(patches) > 300 and {i['bbox_label'] for d in patches for i in d['instances']} == {0, 1, 2, 3}


def test_train_then_dota_metric_on_merged_images(trained, run_tool):
    work_dir, checkpoint = trained
    run_tool('tools/test.py', CONFIG, checkpoint, '--work-dir', str(work_dir), '--cfg-options', *TINY_TEST)
    metrics = json.loads((work_dir / 'test_metrics.json').read_text())['metrics']
    assert set(metrics) == {'dota/AP50', 'dota/mAP'} and 0 <= metrics['dota/mAP'] <= 1


def test_inference_on_large_image_folder_and_video(trained, dota_root, tmp_path):
    from convzoo.apis import Inferencer
    from convzoo.apis.adapters import task_for
    from convzoo.tasks.rotated.inference import RotatedDetectionTask
    _, checkpoint = trained
    # barely trained: keep every box so that split, merge and drawing have something to do
    infer = Inferencer(CONFIG, checkpoint, score_thr=0.0,
                       cfg_options={'model.test_cfg.score_thr': 0.0, 'model.test_cfg.max_per_img': 20})
    assert isinstance(infer.task, RotatedDetectionTask)
    tiles = [cv2.imread(str(dota_root / 'val' / 'images' / f'P{i:04d}.jpg')) for i in range(2)]
    large = np.hstack([t[:, :200] for t in tiles])  # 400 x 384: split into four 256 patches and merged
    result = infer(large, out_dir=str(tmp_path / 'large'), progress=False)[0]
    assert len(result['polygons']) == len(result['bboxes']) == len(result['scores']) > 0
    assert all(len(p) == 8 for p in result['polygons'])
    assert cv2.imread(str(tmp_path / 'large' / 'array.jpg')).shape == large.shape
    folder = tmp_path / 'images'
    folder.mkdir()
    small = [np.ascontiguousarray(t[:192, :192]) for t in tiles]  # not larger than a patch: predicted whole
    for i, tile in enumerate(small):
        cv2.imwrite(str(folder / f'tile{i}.png'), tile)
    assert len(infer(str(folder), out_dir=str(tmp_path / 'folder'), progress=False)) == 2
    video = str(tmp_path / 'clip.mp4')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 5, (192, 192))
    for tile in small:
        writer.write(tile)
    writer.release()
    assert len(infer(video, out_dir=str(tmp_path / 'video'), progress=False)) == 2
    assert (tmp_path / 'video' / 'clip.mp4').is_file()
    from convzoo.core.config import load_config
    plain = load_config('configs/sepc/demo/retinanet_baseline_demo.py')
    assert not isinstance(task_for(plain), RotatedDetectionTask)  # ordinary detectors keep their adapter
