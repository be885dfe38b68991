"""The inference API: image, array, folder, glob and video give the same detections for the same frame; every input
has an output of its own; an image without pixels is refused."""
import json
import re

import cv2
import numpy as np
import pytest
import torch

from convzoo.apis import SourceError
from convzoo.apis.sources import output_names

CONFIG = 'configs/sepc/demo/sepc_lite_retinanet_demo.py'


@pytest.fixture(scope='module')
def inferencer(tmp_path_factory, shapes_root, detector_inferencer):
    """A demo detector whose random weights give spread-out scores (so a few boxes pass), saved as a checkpoint."""
    def kaiming_neck(model):
        for name, p in model.neck.named_parameters():
            if p.dim() == 4 and 'offset' not in name:
                torch.nn.init.kaiming_normal_(p)
    return detector_inferencer(CONFIG, tmp_path_factory.mktemp('ckpt'), shapes_root / 'val/00001.jpg',
                               kaiming_neck, batch_size=2)


@pytest.fixture(scope='module')
def frames(shapes_root, tmp_path_factory):
    """Three dataset images as a video, and the decoded video frames saved losslessly as PNG files."""
    folder = tmp_path_factory.mktemp('frames')
    video = str(folder.parent / 'clip.mp4')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 5.0, (160, 160))
    for i in (1, 2, 3):
        writer.write(cv2.imread(str(shapes_root / f'val/{i:05d}.jpg')))
    writer.release()
    cap = cv2.VideoCapture(video)
    for i in range(3):
        ok, img = cap.read()
        assert ok
        cv2.imwrite(str(folder / f'f{i}.png'), img)
    return folder, video


SCORE_THR = 0.5  # the fixture's Inferencer draws and writes the detections scoring at least this


def _same(a, b):
    """Same detections above the threshold; the order of equal-scored boxes may differ between batched and single
    runs."""
    def rows(r):
        kept = [i for i, score in enumerate(r['scores']) if score >= SCORE_THR]
        return sorted((r['labels'][i], round(r['scores'][i], 3), *np.round(r['bboxes'][i], 1)) for i in kept)
    assert len(rows(a)) == len(rows(b)) > 0
    assert np.allclose(np.array(rows(a), float), np.array(rows(b), float), atol=0.11)


def expected_json(result):
    """What the JSON file of a detection result holds: the detections at or above the threshold, boxes to 0.01 px
    and scores to 1e-4, beside the common keys."""
    kept = [i for i, score in enumerate(result['scores']) if score >= SCORE_THR]
    return dict({key: result[key] for key in ('source', 'frame', 'skipped', 'reason', 'notes')},
                bboxes=[[round(v, 2) for v in result['bboxes'][i]] for i in kept],
                scores=[round(result['scores'][i], 4) for i in kept], labels=[result['labels'][i] for i in kept],
                label_names=[result['label_names'][i] for i in kept], score_thr=SCORE_THR)


def test_image_array_folder_glob_and_video_agree(inferencer, frames, tmp_path):
    folder, video = frames
    by_image = inferencer(str(folder / 'f1.png'))[0]
    assert max(by_image['scores']) >= SCORE_THR, 'the fixture model should produce detections'
    by_array = inferencer(cv2.imread(str(folder / 'f1.png')))[0]
    by_folder = inferencer(str(folder))
    by_glob = inferencer(str(folder / '*.png'))
    by_video = inferencer(video, out_dir=str(tmp_path / 'out'))
    assert len(by_folder) == len(by_glob) == len(by_video) == 3
    for other in (by_array, by_folder[1], by_glob[1], by_video[1]):
        _same(by_image, other)
    # the same keys whatever the source
    assert set(by_image) == set(by_array) == set(by_folder[1]) == set(by_video[1]) == {
        'source', 'frame', 'skipped', 'reason', 'notes', 'bboxes', 'scores', 'labels', 'label_names'}
    assert (by_image['source'], by_image['frame'], by_array['source']) == (str(folder / 'f1.png'), None, 'array')
    assert [(r['source'], r['frame']) for r in by_video] == [(video, i) for i in range(3)]
    # the drawn video has the input's frame count, size and rate; the JSON says how many frames were read
    cap = cv2.VideoCapture(str(tmp_path / 'out/clip.mp4'))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3 and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(5.0)
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (160, 160)
    summary = json.loads((tmp_path / 'out/clip.json').read_text())
    assert summary['frames'] == 3 and summary['skipped_frames'] == 0
    assert not list((tmp_path / 'out').glob('*.part*'))


def test_drawn_image_and_json_are_written(inferencer, frames, tmp_path):
    folder, _ = frames
    result = inferencer(str(folder / 'f0.png'), out_dir=str(tmp_path))[0]
    drawn = cv2.imread(str(tmp_path / 'f0.jpg'))
    assert drawn.shape == (160, 160, 3)
    assert not np.array_equal(drawn, cv2.imread(str(folder / 'f0.png')))  # boxes were drawn
    assert json.loads((tmp_path / 'f0.json').read_text()) == expected_json(result)


def test_gray_rgba_and_16_bit_images_are_converted(inferencer, frames, tmp_path):
    folder, _ = frames
    img = cv2.imread(str(folder / 'f1.png'))
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(tmp_path / 'gray.png'), gray)
    cv2.imwrite(str(tmp_path / 'rgba.png'), cv2.cvtColor(img, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(tmp_path / 'deep.png'), img.astype(np.uint16) * 257)
    rgba, deep = inferencer(str(tmp_path / 'rgba.png'))[0], inferencer(str(tmp_path / 'deep.png'))[0]
    assert 'alpha channel dropped' in rgba['notes'] and '16-bit scaled to 8-bit' in deep['notes']
    _same(inferencer(str(folder / 'f1.png'))[0], rgba)
    _same(inferencer(str(folder / 'f1.png'))[0], deep)
    assert 'grayscale replicated to 3 channels' in inferencer(str(tmp_path / 'gray.png'))[0]['notes']


def test_bad_sources_have_clear_messages(inferencer, tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SourceError, match='contains no images'):
        inferencer(str(tmp_path / 'empty'))
    (tmp_path / 'broken.mp4').write_bytes(b'not a video')
    with pytest.raises(SourceError, match=r'broken\.mp4: cannot be opened'):
        inferencer(str(tmp_path / 'broken.mp4'))
    with pytest.raises(SourceError, match='no such file'):
        inferencer(str(tmp_path / 'missing.jpg'))


def write_images(folder, image, *names):
    """``image`` saved under each name (relative to ``folder``), mirrored for every other one so outputs differ."""
    for i, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / name), np.ascontiguousarray(image[:, ::-1] if i % 2 else image))


def test_inputs_sharing_a_stem_in_a_folder_keep_their_extension_in_the_output_name(inferencer, frames, tmp_path):
    folder, _ = frames
    write_images(tmp_path / 'in', cv2.imread(str(folder / 'f1.png')), 'x.jpg', 'x.png')
    out = tmp_path / 'out'
    results = inferencer(str(tmp_path / 'in'), out_dir=str(out))
    assert sorted(p.name for p in out.iterdir()) == ['summary.json', 'x_jpg.jpg', 'x_jpg.json', 'x_png.jpg',
                                                     'x_png.json']
    for result, name in zip(results, ('x_jpg', 'x_png')):
        assert json.loads((out / f'{name}.json').read_text()) == expected_json(result)
    summary = json.loads((out / 'summary.json').read_text())
    assert [(p['input'], p['output']) for p in summary['processed']] == [
        (str(tmp_path / 'in/x.jpg'), 'x_jpg.jpg'), (str(tmp_path / 'in/x.png'), 'x_png.jpg')]


def test_a_glob_over_subfolders_keeps_the_relative_path_in_the_output_name(inferencer, frames, tmp_path):
    folder, _ = frames
    write_images(tmp_path / 'in', cv2.imread(str(folder / 'f1.png')), 'a/x.jpg', 'b/x.jpg')
    out = tmp_path / 'out'
    results = inferencer(str(tmp_path / 'in' / '*' / 'x.jpg'), out_dir=str(out))
    for result, sub in zip(results, 'ab'):
        assert json.loads((out / sub / 'x.json').read_text())['source'] == result['source'] == \
            str(tmp_path / 'in' / sub / 'x.jpg')
        assert cv2.imread(str(out / sub / 'x.jpg')).shape == (160, 160, 3)


def test_output_names_never_collide():
    assert output_names(['d/x.jpg', 'd/s/x.jpg', 'd/y.png'], 'd') == ['x', 's/x', 'y']
    # a shared name keeps the extension; a name still taken (or 'summary', the run's report) gets a number
    assert output_names(['d/x.jpg', 'd/x.png', 'd/x_jpg.png', 'd/summary.jpg'], 'd') == [
        'x_jpg', 'x_png', 'x_jpg_2', 'summary_2']


@pytest.mark.parametrize('shape', [(0, 0, 3), (0, 7, 3), (7, 0), (0, 0)])
def test_an_array_without_pixels_is_refused(inferencer, shape):
    with pytest.raises(SourceError, match=re.escape(f'array input: empty image of shape {shape}')):
        inferencer(np.zeros(shape, np.uint8))
