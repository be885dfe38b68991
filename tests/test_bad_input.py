"""Bad input stops with one clear message naming the file or key (tools run as a user runs them)."""
import json
import shutil

import torch

CONFIG = 'configs/sepc/demo/sepc_lite_retinanet_demo.py'


def _small_copy(shapes_root, tmp_path, n=8):
    """A copy of the first n training images with their annotations."""
    data = json.loads((shapes_root / 'annotations/train.json').read_text())
    images = data['images'][:n]
    ids = {i['id'] for i in images}
    data = dict(data, images=images, annotations=[a for a in data['annotations'] if a['image_id'] in ids])
    (tmp_path / 'annotations').mkdir(parents=True)
    (tmp_path / 'train').mkdir()
    for img in images:
        shutil.copy(shapes_root / img['file_name'], tmp_path / img['file_name'])
    return data


def _train(run_tool, root, tmp_path, *extra):
    return run_tool('tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                    f'train_dataloader.dataset.data_root={root}/', 'train_dataloader.num_workers=0',
                    'train_dataloader.persistent_workers=False', 'train_dataloader.batch_size=4',
                    'train_cfg.max_epochs=1', 'train_cfg.val_interval=100', *extra, check=False)


def _error_line(proc):
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith('error: ')]
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr
    return lines[0]


def test_missing_image(run_tool, shapes_root, tmp_path):
    data = _small_copy(shapes_root, tmp_path / 'd')
    (tmp_path / 'd' / data['images'][2]['file_name']).unlink()
    (tmp_path / 'd/annotations/train.json').write_text(json.dumps(data))
    line = _error_line(_train(run_tool, tmp_path / 'd', tmp_path))
    assert data['images'][2]['file_name'] in line and 'does not exist' in line
    assert not (tmp_path / 'work' / 'epoch_1.pth').exists()


def test_corrupt_image(run_tool, shapes_root, tmp_path):
    data = _small_copy(shapes_root, tmp_path / 'd', n=4)
    (tmp_path / 'd' / data['images'][1]['file_name']).write_bytes(b'\xff\xd8 not a jpeg')
    (tmp_path / 'd/annotations/train.json').write_text(json.dumps(data))
    line = _error_line(_train(run_tool, tmp_path / 'd', tmp_path))
    assert data['images'][1]['file_name'] in line and 'corrupt' in line
    assert not (tmp_path / 'work' / 'epoch_1.pth').exists()


def test_annotation_file_that_is_not_coco(run_tool, shapes_root, tmp_path):
    _small_copy(shapes_root, tmp_path / 'd')
    (tmp_path / 'd/annotations/train.json').write_text(json.dumps({'images': [], 'labels': []}))
    line = _error_line(_train(run_tool, tmp_path / 'd', tmp_path))
    assert 'train.json' in line and '"annotations"' in line


def test_unknown_module_name(run_tool, shapes_root, tmp_path):
    proc = _train(run_tool, shapes_root, tmp_path, 'model.neck.1.type=NoSuchNeck')
    assert 'NoSuchNeck' in _error_line(proc)


def test_missing_data_root_names_the_path_and_the_demo(run_tool, tmp_path):
    proc = run_tool('tools/train.py', 'configs/sepc/retinanet_r50_fpn-sepc_1x_coco.py', '--work-dir', str(tmp_path),
                    '--cfg-options', 'train_dataloader.dataset.data_root=data/nowhere/',
                    'model.backbone.init_cfg=None', check=False)
    line = _error_line(proc)
    assert "'data/nowhere/'" in line and 'configs/sepc/demo/sepc_retinanet_demo.py' in line


def test_torchvision_weights_fail_at_once(run_tool, tmp_path):
    proc = run_tool('tools/train.py', 'configs/sepc/retinanet_r50_fpn-sepc_1x_coco.py', '--work-dir', str(tmp_path),
                    '--cfg-options', 'model.backbone.init_cfg.checkpoint=torchvision://resnet50', check=False)
    line = _error_line(proc)
    assert 'model.backbone.init_cfg.checkpoint' in line and 'local file' in line


def test_checkpoint_of_another_model_is_refused_by_test_tool(run_tool, shapes_root, tmp_path):
    from mmengine.registry import init_default_scope

    from convzoo.core.config import load_config
    cfg = load_config('configs/sepc/demo/retinanet_baseline_demo.py')
    init_default_scope('mmdet')
    from mmdet.registry import MODELS
    path = tmp_path / 'baseline.pth'
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict(), 'meta': {}}, path)
    proc = run_tool('tools/test.py', CONFIG, str(path), '--work-dir', str(tmp_path / 'w'), check=False)
    line = _error_line(proc)
    assert 'baseline.pth' in line and 'another model' in line
    assert not (tmp_path / 'w' / 'test_metrics.json').exists()
