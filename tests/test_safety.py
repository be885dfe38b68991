"""Nothing lost, nothing run: weights-only loading from every URL scheme (through a local torch hub cache),
checkpoints that survive kill -9 at any point of a save, one run per work dir, and resume/config mistakes that end
in one ``error:`` line."""
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

from convzoo.core.errors import CheckpointError, ConfigError
from convzoo.core.safe_load import hub_cache_path

DEMO = 'configs/sepc/demo/sepc_lite_retinanet_demo.py'


class Payload:
    """Unpickling this creates a marker file: proof that a load ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def _plant(url: str, marker) -> None:
    """A malicious checkpoint in torch's hub cache, where a download of ``url`` would be kept."""
    path = hub_cache_path(url)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'x': Payload(marker)}, path)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    torch.hub.set_dir(str(tmp_path / 'torch' / 'hub'))
    yield tmp_path
    torch.hub.set_dir(os.path.join(os.path.expanduser('~'), '.cache', 'torch', 'hub'))


@pytest.mark.parametrize('name', ['https://example.invalid/weights/evil.pth', 'openmmlab://resnet50_v1c',
                                  'mmcls://resnet50'])
def test_every_url_scheme_loads_weights_only(hub, name):
    from mmengine.runner.checkpoint import get_external_models, get_mmcls_models
    url = {'openmmlab://resnet50_v1c': get_external_models().get('resnet50_v1c'),
           'mmcls://resnet50': get_mmcls_models().get('resnet50')}.get(name, name)
    marker = hub / 'ran'
    _plant(url, marker)
    with pytest.raises(CheckpointError, match=r'refused to load: the file contains the global .*system'):
        CheckpointLoader.load_checkpoint(name, map_location='cpu')
    assert not marker.exists()
    # plain weights in the cache load (mmcls:// keeps the backbone's keys without their prefix, as mmengine does)
    torch.save({'state_dict': {'backbone.w': torch.ones(2)}}, hub_cache_path(url))
    weights = CheckpointLoader.load_checkpoint(name, map_location='cpu')['state_dict']
    assert torch.equal(weights['w' if name.startswith('mmcls') else 'backbone.w'], torch.ones(2))


def test_pretrained_url_in_a_config_is_refused_during_training(run_tool, tmp_path, hub):
    url = 'https://example.invalid/weights/backbone.pth'
    marker = tmp_path / 'ran'
    _plant(url, marker)
    config = tmp_path / 'pretrained_from_url.py'
    config.write_text(f"_base_ = '{os.path.abspath(DEMO)}'\n"
                      f"model = dict(backbone=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint='{url}')))\n")
    proc = run_tool('tools/train.py', str(config), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                    'train_cfg.max_epochs=1', check=False, env={'TORCH_HOME': str(tmp_path / 'torch')})
    assert proc.returncode == 1 and 'refused to load' in proc.stderr and 'backbone.pth' in proc.stderr
    assert not marker.exists()


# --- crash-safe checkpoints ------------------------------------------------------------------------------------------
class _Toy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(1024, 2048))  # 8 MB: a save takes long enough to be hit

    def forward(self, *args, **kwargs):
        return {}


def _save_forever(work_dir: str, ready) -> None:
    from mmengine.model import BaseModel

    from convzoo.engine import ConvzooRunner

    class Model(BaseModel):
        def __init__(self):
            super().__init__()
            self.body = _Toy()

        def forward(self, *args, **kwargs):
            return {}

    runner = ConvzooRunner(model=Model(), work_dir=work_dir, train_dataloader=dict(
        dataset=[0, 1], sampler=dict(type='DefaultSampler', shuffle=False), batch_size=1),
        train_cfg=dict(by_epoch=True, max_epochs=1), optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1,
                                           save_optimizer=False)),
        default_scope='mmengine', log_level='ERROR')
    hook = next(h for h in runner.hooks if type(h).__name__ == 'ConvzooCheckpointHook')
    hook.before_train(runner)
    step = 1
    while True:
        hook._save_checkpoint_with_step(runner, step, dict(epoch=step, iter=step))
        ready.set()
        step += 1


@pytest.mark.e2e
def test_kill_9_during_saves_never_loses_the_checkpoint(tmp_path):
    from convzoo.engine.checkpoint_files import newest_readable_checkpoint, readable_checkpoint
    context = multiprocessing.get_context('fork')
    rng = random.Random(0)
    for attempt in range(20):
        work_dir = str(tmp_path / f'run{attempt}')
        ready = context.Event()
        child = context.Process(target=_save_forever, args=(work_dir, ready))
        child.start()
        assert ready.wait(120), 'the child never completed a first save'
        time.sleep(rng.uniform(0, 0.4))  # somewhere inside a later save, its deletion or the pointer update
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        found = newest_readable_checkpoint(work_dir, log=lambda message: None)
        assert found is not None and readable_checkpoint(found) is None
        names = [n for n in os.listdir(work_dir) if n.endswith('.pth')]
        assert names and all(readable_checkpoint(os.path.join(work_dir, n)) is None for n in names), names
        pointer = open(os.path.join(work_dir, 'last_checkpoint')).read().strip()
        assert readable_checkpoint(pointer) is None  # the pointer never names a deleted or partial file


def test_resume_skips_unreadable_checkpoints_and_says_so(tmp_path):
    from convzoo.engine.checkpoint_files import newest_readable_checkpoint
    good, bad = tmp_path / 'epoch_1.pth', tmp_path / 'epoch_2.pth'
    torch.save({'meta': {'epoch': 1, 'iter': 1}, 'state_dict': {}}, good)
    bad.write_bytes(good.read_bytes()[:40])  # truncated
    os.utime(bad, (time.time() + 5, time.time() + 5))
    (tmp_path / 'last_checkpoint').write_text(str(bad))
    notes = []
    assert newest_readable_checkpoint(str(tmp_path), log=notes.append) == str(good)
    assert len(notes) == 1 and 'epoch_2.pth' in notes[0] and 'not a readable' in notes[0]


# --- one run per work dir --------------------------------------------------------------------------------------------
def test_work_dir_lock_refuses_a_live_owner_and_takes_over_a_stale_one(tmp_path):
    from convzoo.engine.work_dir_lock import LOCK_NAME, WorkDirLock
    other = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        (tmp_path / LOCK_NAME).write_text(f'{other.pid}\n')
        with pytest.raises(ConfigError, match=f'in use by another run \\(process {other.pid}\\)'):
            WorkDirLock(str(tmp_path)).acquire()
    finally:
        other.kill()
        other.wait()
    notes = []
    with WorkDirLock(str(tmp_path), notes.append):  # the owner is gone now
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
    assert notes and 'no longer running' in notes[0] and not (tmp_path / LOCK_NAME).exists()


def test_second_training_on_a_work_dir_in_use_stops_at_once(run_tool, tmp_path):
    from convzoo.engine.work_dir_lock import LOCK_NAME
    other = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])
    try:
        (tmp_path / 'work').mkdir()
        (tmp_path / 'work' / LOCK_NAME).write_text(f'{other.pid}\n')
        proc = run_tool('tools/train.py', DEMO, '--work-dir', str(tmp_path / 'work'), check=False)
    finally:
        other.kill()
        other.wait()
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith('error: ')]
    assert proc.returncode == 1 and len(lines) == 1 and f'process {other.pid}' in lines[0]
    assert not list((tmp_path / 'work').glob('*.pth'))


# --- resume and config mistakes: one error line each -----------------------------------------------------------------
def _one_error_line(proc) -> str:
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith('error: ')]
    assert proc.returncode == 1 and len(lines) == 1 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


def test_resume_from_a_state_dict_only_file_names_the_fix(run_tool, tmp_path):
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    from convzoo.core.config import load_config
    init_default_scope('mmdet')
    weights = tmp_path / 'weights.pth'
    torch.save(MODELS.build(load_config(DEMO).model).state_dict(), weights)
    line = _one_error_line(run_tool('tools/train.py', DEMO, '--work-dir', str(tmp_path / 'w'), '--resume',
                                    str(weights), check=False))
    assert 'weights.pth' in line and 'no training state' in line and 'load_from=' in line


def test_resume_from_another_models_checkpoint_is_refused(run_tool, tmp_path):
    other = tmp_path / 'segmentation.pth'
    torch.save({'meta': {'epoch': 1, 'iter': 10}, 'state_dict': {'decode_head.conv_seg.weight': torch.zeros(3, 3)},
                'message_hub': {}}, other)
    line = _one_error_line(run_tool('tools/train.py', DEMO, '--work-dir', str(tmp_path / 'w'), '--resume',
                                    str(other), check=False))
    assert 'segmentation.pth' in line and 'another model' in line


@pytest.mark.parametrize('case', ['checkpoint', 'json', 'syntax', 'channels', 'argument'])
def test_config_mistakes_end_in_one_line_naming_the_file_or_key(run_tool, tmp_path, case):
    args, expected = [DEMO], []
    if case == 'checkpoint':
        torch.save({'w': torch.zeros(1)}, tmp_path / 'model.pth')
        args, expected = [str(tmp_path / 'model.pth')], ['model.pth', 'not a config file']
    elif case == 'json':
        (tmp_path / 'ann.json').write_text(json.dumps({'images': [], 'annotations': []}))
        args, expected = [str(tmp_path / 'ann.json')], ['ann.json', 'defines no "model"']
    elif case == 'syntax':
        (tmp_path / 'broken.py').write_text("model = dict(\n    type='RetinaNet',\n    neck=dict(a=1 +\n)\n")
        args, expected = [str(tmp_path / 'broken.py')], ['broken.py:', 'syntax error']
    elif case == 'channels':
        args += ['--cfg-options', 'model.bbox_head.in_channels=128']
        expected = ['model.bbox_head.in_channels = 128', 'model.neck[1].out_channels']
    else:
        args += ['--cfg-options', 'model.neck.1.pconv_deformm=True']
        expected = ['model.neck[1].pconv_deformm', "SEPC takes no argument 'pconv_deformm'"]
    line = _one_error_line(run_tool('tools/train.py', *args, '--work-dir', str(tmp_path / 'w'), check=False))
    assert all(e in line for e in expected), line


def test_empty_annotation_file_is_refused_for_training_and_warned_for_testing(shapes_root, tmp_path):
    from convzoo.cli.preflight import preflight
    from convzoo.core.config import load_config
    from convzoo.core.errors import AnnotationError
    data = json.loads((shapes_root / 'annotations/val.json').read_text())
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'annotations/empty.json').write_text(json.dumps(dict(data, annotations=[])))
    (tmp_path / 'val').symlink_to((shapes_root / 'val').resolve())
    options = {f'{loader}.dataset.{key}': value for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
               for key, value in (('data_root', f'{tmp_path}/'), ('ann_file', 'annotations/empty.json'),
                                  ('data_prefix.img', ''))}
    cfg = load_config(DEMO, options)
    with pytest.raises(AnnotationError, match=r'empty\.json: has no annotations'):
        preflight(cfg, DEMO, 'train')
    preflight(cfg, DEMO, 'test')  # evaluation on it is allowed, with a warning


def test_a_raw_pickle_refusal_names_the_payloads_callable(tmp_path):
    import pickle

    from convzoo.core.safe_load import load_checkpoint_file
    path = tmp_path / 'raw.pkl'
    with open(path, 'wb') as f:  # a tensor first: its reducer (torch.storage._load_from_bytes) is not the culprit
        pickle.dump({'weights': torch.zeros(3), 'x': Payload(tmp_path / 'ran')}, f)
    with pytest.raises(CheckpointError, match=rf'raw\.pkl: refused to load: the file contains the global '
                                              rf'{os.system.__module__}\.system'):
        load_checkpoint_file(str(path))
    assert not (tmp_path / 'ran').exists()
