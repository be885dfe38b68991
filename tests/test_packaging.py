"""The package stands without the checkout: the wheel ships convzoo with its configs (not tests/ or tools/), and
installed into a fresh venv outside the repository it trains and infers from a temporary folder. mmdet's own
training script runs convzoo configs with convzoo's runner."""
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICK = ['train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=8', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False', 'train_cfg.val_interval=5', 'default_hooks.logger.interval=1']


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('wheel')
    build = tmp_path_factory.mktemp('build')  # setuptools' scratch folder, outside the checkout
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(out),
                    str(ROOT)], check=True, capture_output=True, timeout=300,
                   env=dict(os.environ, TMPDIR=str(build)))
    shutil.rmtree(ROOT / 'build', ignore_errors=True)
    return next(out.glob('convzoo-*.whl'))


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith(('tests/', 'tools/')) or '/tests/' in n]
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / 'convzoo').rglob('__init__.py')}
    shipped = {n.rsplit('/', 1)[0] for n in names if n.endswith('__init__.py')}
    assert packages <= shipped, packages - shipped
    configs = {str(p.relative_to(ROOT / 'configs')) for p in (ROOT / 'configs').rglob('*.py')}
    assert {f'convzoo/.mim/configs/{c}' for c in configs} | {'convzoo/.mim/configs/moved.json'} <= set(names)
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith('entry_points.txt'))).decode()
    assert 'convzoo = convzoo.cli.main:main' in entry_points


def _fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed; the rest of the stack (torch, the built mmcv, mmdet...) is reached
    through a path entry to this environment's site-packages, whose own .pth files (the editable convzoo) are not
    processed, so ``import convzoo`` can only find the wheel's copy."""
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True, timeout=120)
    site = Path(subprocess.run([str(venv / 'bin/python'), '-c', 'import sysconfig; print(sysconfig.get_paths()'
                                '["purelib"])'], check=True, capture_output=True, text=True).stdout.strip())
    (site / 'stack.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    subprocess.run([str(venv / 'bin/python'), '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return venv


@pytest.mark.e2e
def test_installed_wheel_trains_and_infers_outside_the_checkout(tmp_path, wheel):
    venv = _fresh_venv(tmp_path, wheel)
    work = tmp_path / 'elsewhere'
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    env.update(OMP_NUM_THREADS='2', PYTHONWARNINGS='ignore')

    def convzoo(*args):
        proc = subprocess.run([str(venv / 'bin/convzoo'), *args], cwd=work, env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        return proc.stdout

    where = subprocess.run([str(venv / 'bin/python'), '-c', 'import convzoo; print(convzoo.__file__)'], cwd=work,
                           env=env, capture_output=True, text=True, check=True).stdout
    assert str(venv) in where and str(ROOT) not in where
    assert 'train' in convzoo('--help') and 'infer' in convzoo('--help')
    out = convzoo('train', 'convzoo::sepc/demo/sepc_lite_retinanet_demo.py', '--work-dir', 'run', '--cfg-options', *QUICK)
    assert 'Checkpoint:' in out and 'ConvzooRunner' in next((work / 'run').glob('*/*.log')).read_text()
    checkpoint = work / 'run' / 'epoch_1.pth'
    assert checkpoint.is_file() and (work / 'data/embedded/coco_shapes').is_dir()
    image = next((work / 'data/embedded/coco_shapes/val').glob('*.jpg'))
    # a config path from before the configs moved resolves through the shipped configs/moved.json
    convzoo('infer', 'configs/demo/sepc_lite_retinanet_demo.py', str(checkpoint), str(image), '--out-dir', 'vis')
    assert (work / 'vis' / image.name).is_file() and (work / 'vis' / f'{image.stem}.json').is_file()


@pytest.mark.e2e
def test_mmdet_own_train_script_uses_convzoo_runner(tmp_path):
    import mmdet
    script = Path(mmdet.__file__).parent / '.mim' / 'tools' / 'train.py'
    proc = subprocess.run([sys.executable, str(script), 'configs/sepc/demo/sepc_lite_retinanet_demo.py', '--work-dir',
                           str(tmp_path), '--cfg-options', *QUICK], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, OMP_NUM_THREADS='2', PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'ConvzooRunner: checkpoints load weights-only' in log
    assert (tmp_path / 'epoch_1.pth').is_file()
