"""Bounded memory for big images: above a size, restoration runs in overlapping tiles and segmentation resizes its
class scores band by band; both give the whole-image result (within the overlap's tolerance)."""
import numpy as np
import pytest
import torch

from convzoo.core.config import load_config


def _photo(height: int, width: int) -> np.ndarray:
    import skimage.data
    tiled = np.tile(skimage.data.astronaut()[..., ::-1], (2, 2, 1))
    return np.ascontiguousarray(tiled[:height, :width])


def _adapter(config: str):
    from convzoo.apis.adapters import task_for
    task = task_for(load_config(config))
    torch.manual_seed(0)
    model = task.build_model().eval()
    task.set_meta(None)
    return task, model


def test_segmentation_scores_resized_in_bands_equal_the_whole_map():
    task, model = _adapter('configs/deeplab_v2/demo/deeplabv2_aspp-l_r101_cityscapes_demo.py')
    image = _photo(301, 403)
    whole = task.predict(model, [image])[0]['sem_seg']
    task.tiling.update(above_pixels=1000, band_rows=37)  # now 'large': scores kept small, resized in bands
    banded = task.predict(model, [image, image[:20, :20]])
    assert banded[0]['sem_seg'].shape == whole.shape == image.shape[:2]
    assert (banded[0]['sem_seg'] == whole).mean() > 0.999  # only float ties may differ
    assert banded[1]['sem_seg'].shape == (20, 20)  # a small image in the same batch takes the usual path


@pytest.mark.parametrize('config, tolerance', [('configs/espcn/demo/espcn_x3_t91_demo.py', 1)])
def test_restoration_tiles_above_the_size_and_matches_the_whole_image(config, tolerance):
    task, model = _adapter(config)
    image = _photo(150, 130)
    whole = task.predict(model, [image])[0]['pred_img']
    assert not model.test_cfg.get('tile')
    task.tiling.update(above_pixels=1000, tile=64, overlap=32)
    calls = []
    forward = model.run_network
    model.run_network = lambda x: calls.append(x.shape) or forward(x)
    tiled = task.predict(model, [image])[0]['pred_img']
    assert len(calls) > 1 and all(max(s[-2:]) <= 64 for s in calls)  # it did run in tiles
    assert not model.test_cfg.get('tile')  # and left the config as it was
    assert tiled.shape == whole.shape and np.abs(tiled.astype(int) - whole).max() <= tolerance

