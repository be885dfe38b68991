"""Results in mmdet's shape and outputs people can open: the same keys for every source, data samples on request,
``score_thr`` for drawing and JSON only, JSON without float noise; browser-playable H.264 videos (checked by
decoding them); labels sized to the image on a background in the class colour, placed apart; a segmentation legend;
the loss-curve title from the config."""
import json
import re
import subprocess

import cv2
import numpy as np
import pytest
import torch

from convzoo.apis import Inferencer
from convzoo.apis.adapters import task_for
from convzoo.apis.video import H264Writer, ffmpeg_exe, open_video_writer
from convzoo.core.config import load_config
from convzoo.tasks.adapter import LabelLayout, overlaps

DETECTOR = 'configs/sepc/demo/sepc_lite_retinanet_demo.py'
ROTATED = 'configs/arc/demo/rotated_retinanet_r50_fpn_1x_dota_le90_demo.py'
SEGMENTOR = 'configs/deeplab_v2/demo/deeplabv2_aspp-l_r101_cityscapes_demo.py'
RESTORER = 'configs/espcn/demo/espcn_x3_t91_demo.py'
COMMON = {'source', 'frame', 'skipped', 'reason', 'notes'}
H264_FOURCCS = {cv2.VideoWriter_fourcc(*code) for code in ('h264', 'avc1', 'H264', 'AVC1')}


@pytest.fixture(scope='module')
def detector(tmp_path_factory, shapes_root, detector_inferencer):
    return detector_inferencer(DETECTOR, tmp_path_factory.mktemp('det'), shapes_root / 'val/00001.jpg',
                               batch_size=2)


def decimals(value: float) -> int:
    """How many decimals ``value`` has as JSON writes it."""
    text = repr(value)
    return len(text.split('.')[1]) if '.' in text and 'e' not in text else 0


def test_detection_results_keep_every_prediction_json_and_drawing_follow_score_thr(detector, shapes_root,
                                                                                  tmp_path, monkeypatch):
    image = str(shapes_root / 'val/00001.jpg')
    everything = detector(image)[0]
    scores = sorted(everything['scores'])
    threshold = scores[len(scores) // 2]  # half of the predictions below it
    monkeypatch.setattr(detector.task, 'score_thr', threshold)
    result = detector(image, out_dir=str(tmp_path))[0]
    assert result['scores'] == everything['scores'] and min(result['scores']) < threshold  # all returned
    text = (tmp_path / '00001.json').read_text()
    written = json.loads(text)
    kept = [i for i, s in enumerate(result['scores']) if s >= threshold]
    assert 0 < len(written['scores']) == len(kept) < len(result['scores']) and written['score_thr'] == threshold
    assert written['label_names'] == [result['label_names'][i] for i in kept]
    assert np.allclose(written['bboxes'], [result['bboxes'][i] for i in kept], atol=0.005)
    assert max(decimals(v) for box in written['bboxes'] for v in box) <= 2
    assert max(decimals(v) for v in written['scores']) <= 4
    assert not re.search(r'\d\.\d{5,}', text.replace(repr(threshold), ''))  # no float noise (but the threshold given)
    pixels = cv2.imread(image)
    assert not np.array_equal(detector.task.draw(pixels, result), pixels)
    monkeypatch.setattr(detector.task, 'score_thr', max(scores) + 1e-3)
    assert np.array_equal(detector.task.draw(pixels, result), pixels)  # nothing scores that high: nothing drawn


def test_detection_data_samples_match_the_dicts_for_images_and_video_frames(detector, shapes_root, tmp_path):
    from mmdet.structures import DetDataSample
    image = str(shapes_root / 'val/00002.jpg')
    (result,), (sample,) = detector(image), detector(image, return_datasamples=True)
    assert isinstance(sample, DetDataSample)
    assert torch.allclose(sample.pred_instances.bboxes, torch.tensor(result['bboxes']), atol=1e-3)
    assert sample.pred_instances.labels.tolist() == result['labels']
    assert sample.metainfo['img_path'] == sample.metainfo['source'] == image and sample.metainfo['frame'] is None
    video = tmp_path / 'clip.mp4'
    writer = open_video_writer(str(video), 4.0, (160, 160))
    for i in (1, 2):
        writer.write(cv2.imread(str(shapes_root / f'val/{i:05d}.jpg')))
    writer.release()
    frames = detector(str(video), return_datasamples=True, progress=False)
    assert [(type(s), s.metainfo['source'], s.metainfo['frame']) for s in frames] == [
        (DetDataSample, str(video), 0), (DetDataSample, str(video), 1)]
    assert all(len(s.pred_instances) > 0 for s in frames)


@pytest.fixture(scope='module')
def restorer(tmp_path_factory):
    """The ESPCN x3 demo network with its random initial weights, saved as a checkpoint and loaded."""
    from mmengine.registry import init_default_scope

    from convzoo.core.registry import MODELS
    init_default_scope('convzoo')
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('sr') / 'espcn.pth'
    torch.save({'state_dict': MODELS.build(load_config(RESTORER).model).state_dict()}, path)
    return Inferencer(RESTORER, str(path))


def test_restoration_keeps_pred_img_for_video_frames_and_the_json_names_the_video(restorer, tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (10, 16, 3), dtype=np.uint8) for _ in range(3)]  # 48 x 30 out
    video = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'FFV1'), 5.0, (16, 10))  # lossless input
    for frame in frames:
        writer.write(frame)
    writer.release()
    results = restorer(str(video), out_dir=str(tmp_path / 'out'), progress=False)
    assert [set(r) for r in results] == [COMMON | {'pred_img', 'input_size', 'output_size', 'scale'}] * 3
    assert all(r['pred_img'].shape == (30, 48, 3) and r['pred_img'].dtype == np.uint8 for r in results)
    summary = json.loads((tmp_path / 'out/clip.json').read_text())
    assert [(f['frame'], f['pred_img_file'], f['output_size']) for f in summary['results']] == [
        (i, 'clip.mp4', [48, 30]) for i in range(3)]
    assert 'pred_img' not in summary['results'][0]
    capture = cv2.VideoCapture(str(tmp_path / 'out/clip.mp4'))
    assert int(capture.get(cv2.CAP_PROP_FOURCC)) in H264_FOURCCS and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (48, 30)
    (sample,) = restorer(frames[0], return_datasamples=True)
    by_dict = restorer(frames[0])[0]
    assert sample.pred_img.dtype == torch.uint8 and sample.pred_img.shape == (3, 30, 48)
    assert np.array_equal(sample.pred_img.permute(1, 2, 0).numpy()[..., ::-1], by_dict['pred_img'])
    assert sample.metainfo['source'] == 'array' and 'img_path' not in sample.metainfo


def ffmpeg_description(path) -> str:
    """What ffmpeg says about the file's streams (``ffmpeg -i``, as ffprobe would)."""
    return subprocess.run([ffmpeg_exe(), '-hide_banner', '-i', str(path)], capture_output=True, text=True,
                          check=False).stderr


def test_videos_are_h264_mp4_that_decode_with_every_frame(tmp_path):
    rng = np.random.default_rng(0)
    frames = [np.full((121, 161, 3), 20 * i, np.uint8) + rng.integers(0, 20, (121, 161, 3), dtype=np.uint8)
              for i in range(10)]
    path = tmp_path / 'clip.mp4'
    writer = open_video_writer(str(path), 10.0, (161, 121))
    assert writer.codec == 'h264'
    for frame in frames:
        writer.write(frame)
    writer.release()
    capture = cv2.VideoCapture(str(path))
    assert int(capture.get(cv2.CAP_PROP_FOURCC)) in H264_FOURCCS
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 10 and capture.get(cv2.CAP_PROP_FPS) == pytest.approx(10)
    decoded = [capture.read()[1] for _ in range(10)]
    assert all(d.shape == (122, 162, 3) for d in decoded)  # odd sides padded to even for yuv420p
    for frame, image in zip(frames, decoded):  # the same pictures (lossy, but close), in order
        assert np.abs(image[:121, :161].astype(int) - frame).mean() < 8
    description = ffmpeg_description(path)
    assert re.search(r'Video: h264 .*yuv420p', description), description
    data = path.read_bytes()
    assert data.index(b'moov') < data.index(b'mdat')  # +faststart: a browser can play while it downloads


def test_without_an_h264_encoder_opencv_writes_mp4v_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv('IMAGEIO_FFMPEG_EXE', str(tmp_path / 'no-ffmpeg-here'))
    with pytest.warns(UserWarning, match='no H.264 encoder'):
        writer = open_video_writer(str(tmp_path / 'clip.mp4'), 5.0, (64, 48))
    assert writer.codec == 'mp4v'
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    capture = cv2.VideoCapture(str(tmp_path / 'clip.mp4'))
    assert int(capture.get(cv2.CAP_PROP_FOURCC)) in {cv2.VideoWriter_fourcc(*c) for c in ('mp4v', 'FMP4')}  # MPEG-4
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_a_failing_encoder_is_an_error_not_a_broken_file(tmp_path):
    writer = H264Writer(ffmpeg_exe(), str(tmp_path / 'missing-folder' / 'clip.mp4'), 5.0, (64, 48))
    with pytest.raises(OSError, match='clip.mp4'):
        for _ in range(200):  # ffmpeg stops at once: the pipe breaks or the end reports it
            writer.write(np.zeros((48, 64, 3), np.uint8))
        writer.release()
    with pytest.raises(ValueError, match='frame of shape'):
        H264Writer(ffmpeg_exe(), str(tmp_path / 'x.mp4'), 5.0, (64, 48)).write(np.zeros((48, 63, 3), np.uint8))


# --- drawings ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def boxes_task():
    task = task_for(load_config(DETECTOR), score_thr=0.3)
    task.set_meta({'dataset_meta': {'classes': ('disc', 'rectangle', 'triangle')}})
    return task


def label_mask(canvas: np.ndarray, colour) -> np.ndarray:
    return np.all(canvas == np.array(colour, np.uint8), axis=-1)


def extent(mask: np.ndarray) -> tuple[int, int, int, int]:
    """x1, y1, x2, y2 (exclusive) of the True pixels."""
    ys, xs = np.nonzero(mask)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def drawn_label(task, size: int, box: list[float]):
    """One box of class 1 drawn on a grey ``size`` x ``size`` image: the canvas, the label's extent above the box
    (where the class colour fills the background) and the class colour."""
    canvas = task.draw(np.full((size, size, 3), 128, np.uint8),
                       dict(bboxes=[box], scores=[0.9], labels=[1], label_names=['rectangle']))
    colour = task.colour(1)
    return canvas, label_mask(canvas, colour), colour


def test_labels_have_a_class_coloured_background_contrasting_text_and_scale_with_the_image(boxes_task):
    heights = {}
    for size in (160, 1333):
        k = size / 160
        canvas, mask, colour = drawn_label(boxes_task, size, [40 * k, 60 * k, 100 * k, 120 * k])
        above = mask[:int(60 * k) - 1]  # the label sits on the box's top edge, outside it
        x1, y1, x2, y2 = extent(above)
        label = canvas[y1:y2, x1:x2]
        assert label_mask(label, colour).mean() > 0.5  # a filled background in the class colour
        text = label[~label_mask(label, colour)]
        assert len(text) and np.abs(text.astype(int) - np.array(colour)).sum(1).max() > 300  # contrasting text
        heights[size] = y2 - y1
    assert heights[160] >= 11  # legible on a 160 px image
    assert heights[1333] >= 2.5 * heights[160]  # and proportionate on a large one


def test_a_label_that_would_leave_the_image_goes_inside_the_box(boxes_task):
    _, mask, _ = drawn_label(boxes_task, 160, [40, 0, 100, 60])
    _, y1, _, y2 = extent(mask[1:59, 42:98])  # inside the box's outline
    assert y1 == 0 and y2 > 9  # the label, at the top inside the box


def test_labels_do_not_cover_each_other_where_there_is_room():
    layout = LabelLayout(np.zeros((160, 160, 3), np.uint8))
    boxes = [(40, 60, 100, 120), (45, 62, 105, 125), (50, 58, 110, 118), (0, 0, 30, 20)]
    rects = [layout.draw(f'object {i} 0.9{i}', (0, 0, 255), box) for i, box in enumerate(boxes)]
    assert all(0 <= x1 and 0 <= y1 and x2 <= 160 and y2 <= 160 for x1, y1, x2, y2 in rects)
    assert not any(overlaps(a, b) for i, a in enumerate(rects) for b in rects[i + 1:])


def test_in_a_crowd_no_label_covers_a_better_one():
    """Forty labels on a 160 px image: the first (best) gets its first choice, every label drawn is clear of the
    others, and those with no free place are left out, not drawn over the better ones."""
    canvas = np.zeros((160, 160, 3), np.uint8)
    layout = LabelLayout(canvas)
    boxes = [(4 * i % 120, 30 + 2 * i % 90, 4 * i % 120 + 40, 30 + 2 * i % 90 + 30) for i in range(40)]
    rects = [layout.draw(f'object {i} 0.{99 - i}', (0, 0, 255), box) for i, box in enumerate(boxes)]
    drawn = [r for r in rects if r is not None]
    height = rects[0][3] - rects[0][1]
    assert rects[0][:2] == (boxes[0][0], boxes[0][1] - height)  # above its box, as preferred
    assert not any(overlaps(a, b) for i, a in enumerate(drawn) for b in drawn[i + 1:])
    assert 5 <= len(drawn) < len(rects)  # the image filled up: some labels are left out
    assert layout.taken == drawn


def test_rotated_labels_have_a_background_too():
    task = task_for(load_config(ROTATED), score_thr=0.3)
    task.set_meta(None)
    angle = np.pi / 6
    box = [80.0, 90.0, 60.0, 20.0, angle]
    corners = cv2.boxPoints(((80, 90), (60, 20), np.degrees(angle))).reshape(-1).tolist()
    canvas = task.draw(np.full((160, 160, 3), 128, np.uint8),
                       dict(bboxes=[box], polygons=[corners], scores=[0.8], labels=[2], label_names=['x']))
    mask = label_mask(canvas, task.colour(2))
    top_y = min(corners[1::2])
    x1, y1, x2, y2 = extent(mask[:int(top_y) - 1])  # a filled label above the polygon's top corner
    assert (x2 - x1) * (y2 - y1) > 200 and mask[y1:y2, x1:x2].mean() > 0.5


def test_segmentation_overlay_has_a_legend_of_the_classes_present():
    task = task_for(load_config(SEGMENTOR))
    task.set_meta(None)
    labels = np.zeros((256, 512), np.uint8)
    labels[:100], labels[200:, :100] = 10, 13  # road (0), sky (10), car (13)
    fractions = {task.classes[i]: float((labels == i).mean()) for i in (0, 10, 13)}
    canvas = task.draw(np.full((256, 512, 3), 100, np.uint8), dict(sem_seg=labels, class_fractions=fractions))
    legend = canvas[:128, 256:]  # the top-right corner
    for present in (0, 10, 13):
        assert label_mask(legend, task.colour(present)).sum() >= 25, task.classes[present]
    for absent in (1, 11):
        assert not label_mask(canvas, task.colour(absent)).any()
    assert not label_mask(canvas[128:, :256], task.colour(13)).any()  # the overlay blends; only swatches are pure


def test_loss_curve_title_comes_from_the_config(tmp_path):
    from convzoo.cli.demo import loss_curve_title, plot_losses
    title = loss_curve_title('configs/rcnet/demo/rcnet_retinanet_demo.py')
    assert title == 'rcnet_retinanet_demo (RetinaNet): training loss' and 'SEPC' not in title
    plot_losses([(1, 2.0), (2, 1.5)], str(tmp_path / 'curve.png'), title)
    assert cv2.imread(str(tmp_path / 'curve.png')).shape == (350, 600, 3)


def test_infer_help_explains_score_thr_device_and_batch_size(capsys):
    from convzoo.cli.main import main
    with pytest.raises(SystemExit):
        main(['infer', '--help'])
    text = ' '.join(capsys.readouterr().out.split())
    assert 'draw and write to JSON the detections scoring at least this' in text
    assert 'the Python API returns every detection' in text
    assert "torch device to run on: 'cpu' (default)" in text and 'images (or video frames) per forward pass' in text
