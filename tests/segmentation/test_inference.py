"""Segmentation through the inference API: overlays and label maps out for an image and a video, CRF optional."""
import json

import cv2
import numpy as np
import pytest
import torch

from convzoo.apis import Inferencer

CONFIG = 'configs/deeplab_v2/demo/deeplabv2_aspp-l_r101_cityscapes_demo.py'


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS

    from convzoo.core.config import load_config
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(load_config(CONFIG).model)
    model.init_weights()
    path = tmp_path_factory.mktemp('ckpt') / 'model.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return str(path)


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    from convzoo.core.embedded import ensure_embedded
    root = ensure_embedded('cityscapes_photos')
    image = cv2.imread(str(min(root.glob('leftImg8bit/val/*/*.png'))))
    path = tmp_path_factory.mktemp('scene') / 'scene.png'
    cv2.imwrite(str(path), image)
    return path, image


def test_image_gives_overlay_label_map_and_class_fractions(checkpoint, scene, tmp_path):
    path, image = scene
    (result,) = Inferencer(CONFIG, checkpoint)(str(path), out_dir=str(tmp_path))
    labels = result['sem_seg']
    assert labels.shape == image.shape[:2] and labels.max() < 19
    assert np.array_equal(cv2.imread(str(tmp_path / 'scene_labels.png'), cv2.IMREAD_UNCHANGED), labels)
    overlay = cv2.imread(str(tmp_path / 'scene.jpg'))
    assert overlay.shape == image.shape and not np.array_equal(overlay, image)
    assert sum(result['class_fractions'].values()) == pytest.approx(1.0, abs=1e-3)
    written = json.loads((tmp_path / 'scene.json').read_text())
    assert written['sem_seg_file'] == 'scene_labels.png' and written['class_fractions'] == result['class_fractions']
    assert 'sem_seg' not in written
    from mmseg.structures import SegDataSample
    (sample,) = Inferencer(CONFIG, checkpoint)(str(path), return_datasamples=True)
    assert isinstance(sample, SegDataSample) and sample.metainfo['img_path'] == str(path)
    assert np.array_equal(sample.pred_sem_seg.data[0].numpy(), labels)


def test_crf_config_and_video(checkpoint, scene, tmp_path):
    path, image = scene
    plain = Inferencer(CONFIG, checkpoint)(str(path))[0]['sem_seg']
    crf = Inferencer(CONFIG, checkpoint, cfg_options={'model.test_cfg.crf': dict(iterations=3)})
    refined = crf(str(path))[0]['sem_seg']
    assert refined.shape == plain.shape and not np.array_equal(refined, plain)
    video = str(tmp_path / 'clip.mp4')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 5.0, image.shape[1::-1])
    for _ in range(2):
        writer.write(image)
    writer.release()
    results = Inferencer(CONFIG, checkpoint)(video, out_dir=str(tmp_path / 'out'))
    assert len(results) == 2 and (tmp_path / 'out/clip.mp4').is_file()
    maps = sorted((tmp_path / 'out/clip').glob('*_labels.png'))
    assert len(maps) == 2 and cv2.imread(str(maps[0]), cv2.IMREAD_UNCHANGED).shape == image.shape[:2]
    # the label maps stay in the returned results for videos too; the JSON names their files
    assert all(r['sem_seg'].shape == image.shape[:2] and r['frame'] == i for i, r in enumerate(results))
    frames = json.loads((tmp_path / 'out/clip.json').read_text())['results']
    assert [f['sem_seg_file'] for f in frames] == ['clip/frame_000000_labels.png', 'clip/frame_000001_labels.png']
