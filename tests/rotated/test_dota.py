"""DOTA format, dataset, mAP metric, image splitting and patch merging."""
import math

import cv2
import numpy as np
import pytest
import torch

from convzoo.structures.rotated_boxes import rbox_to_poly, regularize_le90
from convzoo.tasks.rotated.dota import DOTA_V1_CLASSES, DOTADataset, LabelFileError, read_label_file, write_label_file
from convzoo.tasks.rotated.metric import DOTAMetric, ImageDetections, ImageTruth, average_precision, eval_rotated_map
from convzoo.tasks.rotated.split import (
    crop_patch,
    parse_patch_name,
    patch_name,
    predict_large_image,
    split_folder,
    split_windows,
    window_starts,
)

SQUARE = '10 10 30 10 30 30 10 30'


def write(path, text):
    path.write_text(text)
    return str(path)


def test_label_file_with_header_and_flags(tmp_path):
    path = write(tmp_path / 'P1.txt', f'imagesource:GoogleEarth\ngsd:0.146\n{SQUARE} plane 0\n\n'
                                      '0 0 8 0 8 4 0 4 ship 1\n1 1 5 1 5 5 1 5 harbor\n')
    label = read_label_file(path, DOTA_V1_CLASSES)
    assert label.names == ['plane', 'ship', 'harbor'] and label.difficult.tolist() == [0, 1, 0]
    assert label.lines == [3, 5, 6] and label.polygons.shape == (3, 8)


@pytest.mark.parametrize('line,message', [
    (f'{SQUARE} spaceship 0', r'P2.txt:2: unknown class .spaceship.'),
    ('10 10 30 10 30 30 plane 0', r'P2.txt:2: expected .* \(4 points\)'),
    ('10 10 30 ten 30 30 10 30 plane 0', r'P2.txt:2: coordinates must be numbers'),
])
def test_bad_label_lines_name_the_file_and_line(tmp_path, line, message):
    path = write(tmp_path / 'P2.txt', f'{SQUARE} plane 0\n{line}\n')
    with pytest.raises(LabelFileError, match=message):
        read_label_file(path, DOTA_V1_CLASSES)
    if 'spaceship' in line:
        assert read_label_file(path, DOTA_V1_CLASSES, unknown='skip').names == ['plane']


def make_dota_folder(root, objects_per_image):
    """images/ and labelTxt/ of small images with the given (polygon, class, difficult) objects."""
    (root / 'images').mkdir(parents=True)
    (root / 'labelTxt').mkdir()
    for i, objects in enumerate(objects_per_image):
        cv2.imwrite(str(root / 'images' / f'P{i:04d}.png'), np.full((64, 80, 3), 90, np.uint8))
        write(root / 'labelTxt' / f'P{i:04d}.txt', ''.join(f'{p} {c} {d}\n' for p, c, d in objects))


def test_dataset_reads_rboxes_skips_degenerate_and_ignores_difficult_on_request(tmp_path, caplog):
    make_dota_folder(tmp_path, [[(SQUARE, 'plane', 0), ('0 0 10 10 20 20 30 30', 'ship', 0),
                                 ('40 10 60 10 60 20 40 20', 'ship', 1)], []])
    common = dict(data_root=str(tmp_path), ann_file='labelTxt', data_prefix=dict(img='images'))
    train = DOTADataset(**common, filter_cfg=dict(filter_empty_gt=True), pipeline=[])
    assert len(train) == 1  # the image without objects is filtered out for training
    info = train.get_data_info(0)
    assert [i['bbox_label'] for i in info['instances']] == [0, 6]  # the collinear 'ship' line was skipped
    assert np.allclose(info['instances'][0]['bbox'], [20, 20, 20, 20, info['instances'][0]['bbox'][4]])
    assert np.allclose(info['instances'][1]['bbox'], [50, 15, 20, 10, 0])
    assert [i['ignore_flag'] for i in info['instances']] == [0, 0]
    test = DOTADataset(**common, ignore_difficult=True, test_mode=True, pipeline=[])
    assert len(test) == 2 and [i['ignore_flag'] for i in test.get_data_info(0)['instances']] == [0, 1]
    with pytest.raises(FileNotFoundError, match='label folder'):
        DOTADataset(data_root=str(tmp_path), ann_file='missing', data_prefix=dict(img='images'))


def test_average_precision_on_a_hand_made_curve():
    # 2 ground-truth objects; detections by score: TP, FP, TP
    recall, precision = np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])
    assert average_precision(recall, precision, 'area') == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert average_precision(recall, precision, '11points') == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)


def boxes(*rows):
    return np.array(rows, np.float64).reshape(-1, 5)


def test_map_of_ground_truth_against_itself_is_one():
    truths, dets = {}, {}
    for img in range(4):
        b = regularize_le90(np.column_stack([np.random.default_rng(img).uniform(20, 300, (6, 2)),
                                             np.full((6, 2), [30.0, 12.0]), np.linspace(-1.5, 1.5, 6)]))
        labels = np.arange(6) % 3
        truths[img] = ImageTruth(b, labels, np.zeros(6, bool))
        dets[img] = ImageDetections(b, np.linspace(1, 0.5, 6), labels)
    for mode in ('area', '11points'):
        mean_ap, rows = eval_rotated_map(dets, truths, 3, 0.5, mode)
        assert mean_ap == pytest.approx(1.0) and all(r['ap'] == pytest.approx(1.0) for r in rows)


def test_map_known_values_difficult_objects_and_duplicates():
    a, b, c = (10, 10, 10, 4, 0.3), (50, 50, 10, 4, -0.7), (90, 20, 8, 8, 0.0)
    truth = {0: ImageTruth(boxes(a, b, c), np.array([0, 0, 0]), np.array([False, False, True]))}
    # by score: a (TP), a again (duplicate -> FP), c (difficult -> ignored), far away (FP), b (TP)
    dets = {0: ImageDetections(boxes(a, a, c, (200, 200, 5, 5, 0), b), np.array([0.9, 0.8, 0.7, 0.6, 0.5]),
                               np.zeros(5, np.int64))}
    mean_ap, rows = eval_rotated_map(dets, truth, 1, 0.5, 'area')
    # counted curve: TP, FP, FP, TP -> precision 1, 1/2, 1/3, 1/2 at recall 1/2, 1/2, 1/2, 1
    assert rows[0]['num_gts'] == 2 and rows[0]['num_dets'] == 4
    assert mean_ap == pytest.approx(0.5 * 1 + 0.5 * 0.5)
    assert eval_rotated_map(dets, truth, 1, 0.5, '11points')[0] == pytest.approx((6 + 5 * 0.5) / 11)
    # a class without ground truth does not enter the mean
    assert eval_rotated_map(dets, truth, 3, 0.5, 'area')[0] == pytest.approx(0.75)


def test_windows_cover_the_image_and_small_images_are_one_padded_patch():
    assert window_starts(1000, 1024, 200) == [0]
    assert window_starts(2000, 1024, 200) == [0, 824, 976]
    windows = split_windows(2000, 900, 1024, 200)
    covered = np.zeros((900, 2000), bool)
    for x1, y1, x2, y2 in windows:
        covered[y1:y2, x1:x2] = True
    assert covered.all() and len(windows) == 3
    patch = crop_patch(np.ones((30, 40, 3), np.uint8), (0, 0, 40, 30), 64)
    assert patch.shape == (64, 64, 3) and (patch[:30, :40] == 1).all() and (patch[30:] != 1).all()
    assert parse_patch_name(patch_name('P0007', 1024, 824, 0)) == ('P0007', 824, 0)
    with pytest.raises(ValueError, match='not a patch name'):
        parse_patch_name('P0007')


def test_split_folder_keeps_objects_with_exact_shifted_polygons(tmp_path):
    src = tmp_path / 'full'
    (src / 'images').mkdir(parents=True)
    (src / 'labelTxt').mkdir()
    cv2.imwrite(str(src / 'images' / 'P0000.png'), np.zeros((300, 300, 3), np.uint8))
    write(src / 'labelTxt' / 'P0000.txt', '10 10 40 10 40 30 10 30 ship 0\n'  # only in the left windows
                                          '140 140 170 140 170 160 140 160 plane 0\n')  # in every window
    assert split_folder(str(src), str(tmp_path / 'split'), size=200, gap=100, img_suffix='png') == 4
    patch = read_label_file(str(tmp_path / 'split' / 'labelTxt' / 'P0000__200__100___100.txt'))
    assert patch.names == ['plane'] and np.allclose(patch.polygons[0], [40, 40, 70, 40, 70, 60, 40, 60])
    assert read_label_file(str(tmp_path / 'split' / 'labelTxt' / 'P0000__200__0___0.txt')).names == ['ship', 'plane']


def test_split_and_merge_of_a_large_image_returns_each_object_once():
    rng = np.random.default_rng(0)
    centres = np.array([(x, y) for x in range(60, 1000, 110) for y in range(50, 700, 95)], np.float64)
    objects = regularize_le90(np.column_stack([centres + rng.uniform(-10, 10, centres.shape),
                                               rng.uniform(20, 50, (len(centres), 2)),
                                               rng.uniform(-math.pi / 2, math.pi / 2, len(centres))]))
    image = np.zeros((700, 1000, 3), np.uint8)
    origins = [(int(w[0]), int(w[1])) for w in split_windows(1000, 700, 256, 64)]
    pending = list(origins)  # the patches arrive in window order

    def detector(patches):
        """Finds every object whose centre is in the patch, slightly jittered, in patch pixels."""
        out = []
        for _ in patches:
            x0, y0 = pending.pop(0)
            local = objects.copy()
            local[:, :2] -= (x0, y0)
            inside = (local[:, 0] >= 0) & (local[:, 1] >= 0) & (local[:, 0] < 256) & (local[:, 1] < 256)
            jitter = rng.normal(0, 0.5, (inside.sum(), 5)) * [1, 1, 1, 1, 0.01]
            out.append((local[inside] + jitter, rng.uniform(0.5, 1, inside.sum()), np.zeros(inside.sum(), int)))
        return out

    found, scores, labels = predict_large_image(image, detector, size=256, gap=64, iou_thr=0.1)
    assert len(origins) == 20 and not pending
    assert len(found) == len(objects)
    distance = torch.cdist(torch.from_numpy(found[:, :2]), torch.from_numpy(objects[:, :2]))
    assert sorted(distance.argmin(1).tolist()) == list(range(len(objects)))  # each object exactly once
    assert distance.min(1).values.max() < 5


def test_tools_report_a_bad_label_file_in_one_line(run_tool, tmp_path):
    make_dota_folder(tmp_path, [[(SQUARE, 'plane', 0), (SQUARE, 'zeppelin', 0)]])
    config = 'configs/arc/demo/rotated_retinanet_r50_fpn_1x_dota_le90_demo.py'
    proc = run_tool('tools/train.py', config, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                    f'train_dataloader.dataset.data_root={tmp_path}', 'train_dataloader.dataset.ann_file=labelTxt',
                    'train_dataloader.dataset.data_prefix.img=images', 'train_dataloader.dataset.img_suffix=png',
                    check=False)
    assert proc.returncode == 1
    assert "P0000.txt:2: unknown class 'zeppelin'" in proc.stderr.strip().splitlines()[-1]


def test_metric_merges_patches_and_scores_full_images(tmp_path):
    """Ground truth cut into overlapping patches, 'detected' per patch, merged: AP 1 on the full image's labels;
    Task1 files are written."""
    full = regularize_le90(np.array([[60, 60, 40, 12, 0.4], [150, 70, 30, 20, -1.0], [100, 150, 50, 16, 1.2]]))
    labels = np.array([0, 1, 0])
    write_label_file(str(tmp_path / 'P0009.txt'), rbox_to_poly(full), ['plane', 'ship', 'plane'], [0, 0, 0])
    metric = DOTAMetric(merge_patches=True, full_ann_dir=str(tmp_path), outfile_prefix=str(tmp_path / 'task1'),
                        eval_mode='11points')
    metric.dataset_meta = dict(classes=('plane', 'ship'))
    samples = []
    for x, y in [(0, 0), (80, 0), (0, 80), (80, 80)]:  # 128 px patches of a 208 px image: every object seen twice+
        local = full - [x, y, 0, 0, 0]
        seen = (local[:, 0] >= 0) & (local[:, 1] >= 0) & (local[:, 0] < 128) & (local[:, 1] < 128)
        pred = dict(bboxes=torch.from_numpy(local[seen]).float(), scores=torch.full((int(seen.sum()),), 0.9),
                    labels=torch.from_numpy(labels[seen]))
        samples.append(dict(img_id=f'P0009__128__{x}___{y}', pred_instances=pred))
    metric.process({}, samples)
    assert metric.compute_metrics(metric.results) == {'AP50': 1.0, 'mAP': 1.0}
    plane_lines = (tmp_path / 'task1' / 'Task1_plane.txt').read_text().splitlines()
    assert len(plane_lines) == 2 and all(line.startswith('P0009 0.9000 ') for line in plane_lines)
