"""Distributed runs on the CPU through tools/dist_train.sh and tools/dist_test.sh (torchrun, mmengine's 'pytorch'
launcher, gloo): the launcher fix of convzoo/core/distributed.py, then real 2-process trainings and tests.

A 2-process training saves each checkpoint once (rank 0), writes one log, resumes; a 2-process test evaluates
every image once and gives the predictions (hence the COCO metrics) of the 1-process tools/test.py.
"""
import os
import pickle
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from convzoo.core import distributed
from convzoo.core.errors import ConvzooError
from convzoo.core.safe_load import load_checkpoint_file

ROOT = Path(__file__).resolve().parents[1]
CONFIG = 'configs/sepc/demo/sepc_lite_retinanet_demo.py'
# 8 images, 2 per batch and process: 2 iterations an epoch on each of the 2 processes; no validation
TRAIN = ['train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False', 'train_cfg.val_interval=100',
         'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=5',
         'default_hooks.logger.interval=1']
# 8 held-out images one at a time (batch padding then cannot differ between 1 and 2 processes), every score kept
TEST = ['test_dataloader.dataset.indices=8', 'test_dataloader.batch_size=1', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False', 'model.test_cfg.score_thr=0.0']


# --- the launcher fix, in this process -------------------------------------------------------------------------------


def test_pytorch_launcher_without_gpu_uses_gloo_and_cpu_ddp(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr('mmengine.dist.utils._init_dist_pytorch', _fake_init_dist_pytorch)
    cfg = Config(dict(env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend='nccl', timeout=60))))
    distributed.configure_launcher(cfg, 'pytorch')
    assert cfg.env_cfg.dist_cfg == dict(backend='gloo', timeout=60) and cfg.env_cfg.cudnn_benchmark is False
    assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                                         find_unused_parameters=False, device_ids=None)


def test_a_configured_ddp_wrapper_keeps_its_options_and_others_are_left_alone(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr('mmengine.dist.utils._init_dist_pytorch', _fake_init_dist_pytorch)
    cfg = Config(dict(model_wrapper_cfg=dict(type='MMDistributedDataParallel', find_unused_parameters=True)))
    distributed.configure_launcher(cfg, 'pytorch')
    assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel', find_unused_parameters=True,
                                         device_ids=None)
    cfg = Config(dict(model_wrapper_cfg=dict(type='MMFullyShardedDataParallel')))
    distributed.configure_launcher(cfg, 'pytorch')
    assert 'device_ids' not in cfg.model_wrapper_cfg  # not a DistributedDataParallel: no such argument


def test_other_launchers_change_nothing():
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    distributed.configure_launcher(cfg, 'none')
    assert cfg.env_cfg.dist_cfg.backend == 'nccl' and 'model_wrapper_cfg' not in cfg


def _fake_init_dist_pytorch(backend, init_backend='torch', **kwargs):
    raise AssertionError("mmengine's own init: calls torch.cuda.set_device")


def test_init_skips_cuda_device_selection_without_gpu(monkeypatch):
    import mmengine.dist.utils as dist_utils
    monkeypatch.setattr(dist_utils, '_init_dist_pytorch', _fake_init_dist_pytorch)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    calls = []
    monkeypatch.setattr(torch.distributed, 'init_process_group', lambda **kw: calls.append(kw))
    distributed.skip_cuda_device_selection()
    distributed.skip_cuda_device_selection()  # idempotent: one wrapper
    dist_utils.init_dist('pytorch', backend='gloo', timeout=30)
    assert len(calls) == 1 and calls[0]['backend'] == 'gloo' and calls[0]['timeout'].total_seconds() == 30
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)  # a GPU after all: mmengine's own init
    with pytest.raises(AssertionError, match='set_device'):
        dist_utils.init_dist('pytorch', backend='nccl')


def test_more_processes_than_gpus_is_one_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '4')
    with pytest.raises(ConvzooError, match=r'4 processes on this machine but 2 GPU\(s\) visible: start at most 2'):
        distributed.configure_launcher(Config(dict()), 'pytorch')
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '2')
    distributed.configure_launcher(Config(dict()), 'pytorch')  # one process per GPU


def test_rank_1_does_not_write_checkpoint_files(tmp_path, monkeypatch):
    """Only rank 0 writes checkpoints (mmengine's save_checkpoint is master-only); another rank must leave the
    file rank 0 writes alone."""
    import mmengine.dist.utils as dist_utils

    from convzoo.engine.runner import ConvzooRunner
    monkeypatch.setattr(dist_utils, 'get_rank', lambda group=None: 1)
    saved = tmp_path / 'epoch_1.pth'
    saved.write_bytes(b'rank 0 wrote this')
    ConvzooRunner.save_checkpoint(object.__new__(ConvzooRunner), str(tmp_path), 'epoch_1.pth')
    assert saved.read_bytes() == b'rank 0 wrote this'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth']


# --- real processes --------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_script(*args: str, timeout: int = 600) -> str:
    """A tools/ script as a user runs it (a .sh script with a port of its own); its stdout + stderr."""
    command = ['bash', *args] if args[0].endswith('.sh') else [sys.executable, *args]
    env = {**os.environ, 'PORT': str(free_port()), 'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore'}
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{args} failed ({proc.returncode}):\n{out[-4000:]}'
    return out


def dist_train(work_dir: Path, epochs: int, *extra: str) -> str:
    return run_script('tools/dist_train.sh', CONFIG, '2', '--work-dir', str(work_dir), *extra,
                      '--cfg-options', *TRAIN, f'train_cfg.max_epochs={epochs}')


@pytest.fixture(scope='module')
def trained(tmp_path_factory, shapes_root):
    """A 2-process training of 2 epochs: (work dir, its output)."""
    work_dir = tmp_path_factory.mktemp('dist') / 'train'
    return work_dir, dist_train(work_dir, 2)


@pytest.mark.e2e
def test_two_process_training_saves_and_logs_once(trained):
    work_dir, out = trained
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['epoch_1.pth', 'epoch_2.pth']
    assert not list(work_dir.glob('.*.part'))  # no other rank's temporary file left
    for epoch in (1, 2):
        meta = load_checkpoint_file(str(work_dir / f'epoch_{epoch}.pth'))['meta']
        assert meta['epoch'] == epoch and meta['iter'] == 2 * epoch  # 4 images per process, 2 per batch
    logs = list(work_dir.glob('*/*.log'))
    assert len(logs) == 1  # rank 0's only
    log = logs[0].read_text()
    assert log.count('Epoch(train) [1][2/2]') == 1 and log.count('Saving checkpoint at 2 epochs') == 1
    assert out.count('Epoch(train) [1][2/2]') == 1  # rank 1 prints no log lines
    assert "dist_cfg: {'backend': 'gloo'}" in log and 'Distributed training: True' in log


@pytest.mark.e2e
def test_two_process_training_resumes(trained):
    work_dir, _ = trained
    out = dist_train(work_dir, 3, '--resume')
    assert 'resumed epoch: 2, iter: 4' in out
    assert load_checkpoint_file(str(work_dir / 'epoch_3.pth'))['meta']['iter'] == 6


def _test(tmp_path: Path, name: str, checkpoint: Path, processes: int):
    """(metrics, predictions) of tools/test.py (1 process) or tools/dist_test.sh."""
    work_dir, dump = tmp_path / name, tmp_path / f'{name}.pkl'
    tail = ['--work-dir', str(work_dir), '--out', str(dump), '--cfg-options', *TEST]
    if processes == 1:
        out = run_script('tools/test.py', CONFIG, str(checkpoint), *tail)
    else:
        out = run_script('tools/dist_test.sh', CONFIG, str(checkpoint), str(processes), *tail)
    metrics = dict(re.findall(r'(coco/bbox_mAP\w*): (-?[\d.]+)', out))
    with open(dump, 'rb') as f:
        return metrics, pickle.load(f)


@pytest.mark.e2e
def test_two_process_test_gives_the_one_process_results(trained, tmp_path):
    checkpoint = trained[0] / 'epoch_2.pth'
    one_metrics, one = _test(tmp_path, 'one', checkpoint, 1)
    two_metrics, two = _test(tmp_path, 'two', checkpoint, 2)
    assert one_metrics and two_metrics == one_metrics
    ids = [r['img_id'] for r in two]
    assert len(ids) == 8 and sorted(ids) == sorted(r['img_id'] for r in one)  # every image once
    by_id = {r['img_id']: r['pred_instances'] for r in one}
    for result in two:  # identical predictions: the same metrics for any checkpoint, not only this untrained one
        for key in ('bboxes', 'scores', 'labels'):
            torch.testing.assert_close(result['pred_instances'][key], by_id[result['img_id']][key])
