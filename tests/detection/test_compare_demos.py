"""convzoo compare-demos: option handling, the progress line, the table, and one real (tiny) train + test run."""
import json

import pytest

from convzoo.cli import compare_demos

RETINA, RCNET = 'configs/sepc/demo/retinanet_baseline_demo.py', 'configs/rcnet/demo/rcnet_retinanet_demo.py'


def test_epochs_apply_to_every_config_or_to_the_named_one():
    args = compare_demos.parse_args(['--epochs', '3', 'rcnet_retinanet_demo=5'])
    assert compare_demos.epochs_of(args, 'retinanet_baseline_demo') == 3
    assert compare_demos.epochs_of(args, 'rcnet_retinanet_demo') == 5
    options = compare_demos.overrides(args, 'rcnet_retinanet_demo')
    assert {'train_cfg.max_epochs=5', 'param_scheduler.1.end=5', 'default_hooks.checkpoint.interval=5'} <= set(options)
    assert not any('max_epochs' in o for o in compare_demos.overrides(compare_demos.parse_args([]), 'x'))
    assert compare_demos.describe(RCNET, options) == ('coco_shapes', 5)
    with pytest.raises(SystemExit, match='NAME=N'):
        compare_demos.epochs_of(compare_demos.parse_args(['--epochs', 'x=0']), 'x')


def test_only_selects_pairs_and_names_unknown_configs():
    pairs = compare_demos.select_pairs(compare_demos.parse_args(['--only', 'rcnet_retinanet_demo']))
    assert pairs == [(RETINA, RCNET)]
    with pytest.raises(SystemExit, match='no_such_demo'):
        compare_demos.select_pairs(compare_demos.parse_args(['--only', 'no_such_demo']))


def test_progress_line_and_table(tmp_path):
    log = tmp_path / 'train.log'
    log.write_text('11/22 00:24:52 - mmengine - INFO - Epoch(train) [2][ 40/80]  lr: 1.5e-03  eta: 0:10:13  '
                   'time: 1.6  loss: 0.5963  loss_cls: 0.3\n')
    assert compare_demos.last_progress(str(log)) == 'train [2][ 40/80] eta: 0:10:13 loss: 0.5963'
    results = {RETINA: dict(data='coco_shapes', epochs=12, train_wall_s=100.4,
                            metrics=dict(bbox_mAP=0.4151, bbox_mAP_50=0.7, bbox_mAP_vt=-1.0))}
    lines = compare_demos.table([(RETINA, RCNET)], results).splitlines()
    assert lines[2] == '| 1 | retinanet_baseline_demo (baseline) | coco_shapes | 12 | 0.415 | 0.700 | - |  | 100 |'
    assert 'rcnet_retinanet_demo (candidate)' in lines[3] and 'failed' in lines[3]


@pytest.mark.e2e
def test_trains_tests_and_tabulates_a_tiny_run(tmp_path, shapes_root):
    work = tmp_path / 'cmp'
    # 8 images, one iteration, no validation during training: the tool's plumbing, not a meaningful model
    # score_thr=0 keeps the untrained model's low-scoring boxes, so COCO mAP is computed (mmdet reports none without)
    tiny = ['train_dataloader.dataset.indices=8', 'test_dataloader.dataset.indices=8', 'train_cfg.val_interval=2',
            'model.test_cfg.score_thr=0.0']
    code = compare_demos.main(['--pair', RETINA, RETINA, '--epochs', '1', '--work-dir', str(work),
                               '--cfg-options', *tiny])
    assert code == 0
    result = json.loads((work / 'results.json').read_text())['results'][RETINA]
    assert result['epochs'] == 1 and result['data'] == 'coco_shapes'
    assert {'bbox_mAP', 'bbox_mAP_50'} <= set(result['metrics']) and 0 <= result['metrics']['bbox_mAP'] <= 1
    assert result['train_wall_s'] > 0 and result['test_wall_s'] > 0
    assert (work / 'retinanet_baseline_demo' / 'epoch_1.pth').is_file()
    assert '| 1 | retinanet_baseline_demo (baseline) | coco_shapes | 1 |' in (work / 'results.md').read_text()
