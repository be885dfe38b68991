"""The inference API on video with an RCNet detector: same detections as for images and folders, undecodable frames
(in the middle and at the end) skipped and reported, per-frame JSON, nothing written that claims completeness
falsely."""
import json

import cv2
import numpy as np
import pytest

from convzoo.apis import SourceError
from convzoo.apis.sources import prefetch
from convzoo.cli.demo import write_shapes_video

CONFIG = 'configs/rcnet/demo/rcnet_retinanet_demo.py'
FRAMES = 6
BROKEN = 2  # index of the frame whose JPEG data is destroyed


@pytest.fixture(scope='module')
def inferencer(tmp_path_factory, shapes_root, detector_inferencer):
    """The RCNet demo detector with random weights, its class bias set so that a few boxes pass 0.5."""
    return detector_inferencer(CONFIG, tmp_path_factory.mktemp('ckpt'), shapes_root / 'val/00001.jpg',
                               batch_size=2)


def destroy_frame(path, index):
    """Zero the index-th JPEG of an MJPG AVI (up to the next chunk header), so FFmpeg cannot decode that frame.
    The index counts the JPEGs still intact: destroy several frames from the last one down."""
    data = bytearray(open(path, 'rb').read())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    end = starts[index + 1] if index + 1 < len(starts) else data.rfind(b'idx1')
    data[starts[index]:end - 16] = bytes(end - 16 - starts[index])
    open(path, 'wb').write(bytes(data))


def write_mjpg(path, shapes_root, frames):
    """An MJPG AVI at 6 fps of the first ``frames`` dataset images (repeated when more frames than images)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 6.0, (160, 160))
    for i in range(frames):
        writer.write(cv2.imread(str(shapes_root / f'val/{i % FRAMES + 1:05d}.jpg')))
    writer.release()
    return str(path)


@pytest.fixture(scope='module')
def clip(shapes_root, tmp_path_factory):
    """An MJPG clip of 6 dataset images with frame 2 destroyed, and the intact frames as lossless PNGs."""
    folder = tmp_path_factory.mktemp('clip')
    intact, broken = write_mjpg(folder / 'intact.avi', shapes_root, FRAMES), str(folder / 'broken.avi')
    frames = folder / 'frames'
    frames.mkdir()
    capture = cv2.VideoCapture(intact)
    for i in range(FRAMES):
        ok, image = capture.read()
        assert ok
        cv2.imwrite(str(frames / f'{i}.png'), image)
    open(broken, 'wb').write(open(intact, 'rb').read())
    destroy_frame(broken, BROKEN)
    return broken, frames


def above(result, thr=0.5):
    """The detections the fixture's Inferencer draws and writes (score_thr 0.5): bboxes, scores, labels, names."""
    kept = [i for i, score in enumerate(result['scores']) if score >= thr]
    return [[result[key][i] for i in kept] for key in ('bboxes', 'scores', 'labels', 'label_names')]


def same_detections(a, b):
    (boxes_a, scores_a, labels_a, names_a), (boxes_b, scores_b, labels_b, names_b) = above(a), above(b)
    assert labels_a == labels_b and names_a == names_b
    assert np.allclose(boxes_a, boxes_b, atol=0.02) and np.allclose(scores_a, scores_b, atol=1e-3)


def test_video_with_a_broken_frame_matches_images_and_folder_and_says_it_is_incomplete(inferencer, clip,
                                                                                          tmp_path):
    video, frames = clip
    out = tmp_path / 'out'
    by_video = inferencer(video, out_dir=str(out), frame_json=True)
    by_folder = inferencer(str(frames))
    assert [r['frame'] for r in by_video] == list(range(FRAMES))  # one entry per frame the container announces
    assert by_video[BROKEN] == dict(source=video, frame=BROKEN, skipped=True, reason='frame could not be decoded',
                                    notes=[])
    decoded = [r for r in by_video if not r['skipped']]
    assert sum(len(above(r)[0]) for r in decoded) > 0, 'the fixture model should produce detections'
    for result in decoded:
        same_detections(result, by_folder[result['frame']])
    same_detections(inferencer(str(frames / '3.png'))[0], by_video[3])
    summary = json.loads((out / 'broken.json').read_text())
    assert (summary['frames'], summary['expected_frames'], summary['skipped_frames']) == (FRAMES - 1, FRAMES, 1)
    assert summary['skipped_frame_indices'] == [BROKEN] and summary['complete'] is False
    per_frame = sorted(p.name for p in (out / 'broken').glob('*.json'))
    assert per_frame == [f'frame_{i:06d}.json' for i in range(FRAMES) if i != BROKEN]
    written = json.loads((out / 'broken' / 'frame_000003.json').read_text())
    assert written['bboxes'] == [[round(v, 2) for v in box] for box in above(by_video[3])[0]]
    assert (written['source'], written['frame']) == (video, 3) and summary['results'][3] == written
    drawn = cv2.VideoCapture(str(out / 'broken.mp4'))
    assert int(drawn.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES - 1
    assert drawn.get(cv2.CAP_PROP_FPS) == pytest.approx(6.0)
    assert (drawn.get(cv2.CAP_PROP_FRAME_WIDTH), drawn.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (160, 160)
    assert not list(out.rglob('*.part*'))


def test_lost_frames_at_the_end_of_a_video_are_counted(inferencer, shapes_root, tmp_path):
    lost = [4, 10, 11]  # one in the middle and the last two: the container announces 12, FFmpeg decodes 9
    video = write_mjpg(tmp_path / 'tail.avi', shapes_root, 12)
    for index in reversed(lost):
        destroy_frame(video, index)
    out = tmp_path / 'out'
    results = inferencer(video, out_dir=str(out), progress=False)
    assert [r['frame'] for r in results] == list(range(12))
    assert [r['frame'] for r in results if r['skipped']] == lost
    summary = json.loads((out / 'tail.json').read_text())
    assert (summary['frames'], summary['expected_frames'], summary['skipped_frames']) == (9, 12, 3)
    assert summary['skipped_frame_indices'] == lost and summary['complete'] is False
    run = json.loads((out / 'summary.json').read_text())
    assert [s['input'] for s in run['skipped']] == [f'frame_{i:06d}' for i in lost] and len(run['processed']) == 9
    assert int(cv2.VideoCapture(str(out / 'tail.mp4')).get(cv2.CAP_PROP_FRAME_COUNT)) == 9


def test_a_video_without_any_decodable_frame_writes_nothing(inferencer, clip, tmp_path):
    video = tmp_path / 'dead.avi'
    video.write_bytes(open(clip[0], 'rb').read())
    for _ in range(FRAMES - 1):  # the clip's other frames, the first intact JPEG each time
        destroy_frame(str(video), 0)
    with pytest.raises(SourceError, match='no frame could be decoded'):
        inferencer(str(video), out_dir=str(tmp_path / 'out'))
    assert not [p for p in (tmp_path / 'out').rglob('*') if p.is_file()]


def test_demo_clip_from_embedded_data(tmp_path):
    path = write_shapes_video(str(tmp_path / 'clip.mp4'), image_ids=range(1, 4), frames_per_image=4, fps=8.0)
    capture = cv2.VideoCapture(path)
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 12 and capture.get(cv2.CAP_PROP_FPS) == pytest.approx(8.0)
    first, last = capture.read()[1], None
    while True:
        ok, image = capture.read()
        if not ok:
            break
        last = image
    assert first.shape == (160, 160, 3) and not np.array_equal(first, last)


def test_prefetch_keeps_order_raises_producer_errors_and_stops_early():
    assert list(prefetch(range(50), depth=4)) == list(range(50))

    def failing():
        yield 1
        raise OSError('disk gone')
    with pytest.raises(OSError, match='disk gone'):
        list(prefetch(failing(), depth=2))
    closed = []

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)
    stream = prefetch(endless(), depth=2)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert closed == [True]
