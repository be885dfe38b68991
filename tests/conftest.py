"""Shared fixtures: the repository root, the embedded detection dataset, small CPU settings."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)  # configs name data paths relative to the repository root
for _name, _value in (('GOMP_SPINCOUNT', '1000'), ('OMP_WAIT_POLICY', 'PASSIVE')):
    os.environ.setdefault(_name, _value)  # before torch starts OpenMP: as convzoo's commands run (core/threads.py)

import torch  # noqa: E402

if 'OMP_NUM_THREADS' not in os.environ:
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

import convzoo  # noqa: E402,F401  (registration and compatibility fixes before any test)


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope='session')
def shapes_root() -> Path:
    """The embedded COCO-format dataset (generated once into data/embedded/coco_shapes, then reused)."""
    from convzoo.core.embedded import ensure_embedded
    return ensure_embedded('coco_shapes')


def _run_tool(*args: str, check: bool = True, timeout: int = 600, env: dict | None = None):
    """Run a tools/ script in a subprocess the way a user does (``env`` adds variables); the CompletedProcess."""
    import subprocess
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, 'PYTHONWARNINGS': 'ignore', 'OMP_NUM_THREADS': '2', **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    return proc


@pytest.fixture(scope='session')
def run_tool():
    """``run_tool('tools/train.py', cfg, ...)``: a tools/ script in a subprocess, as a user runs it."""
    return _run_tool


def calibrated_detector_inferencer(config: str, folder: Path, image: Path, prepare=None, **infer_kwargs):
    """The config's detector with random weights (``prepare(model)`` may re-initialise parts), its class bias set
    so that about 0.2 % of the anchors of ``image`` score above 0.5, saved as a checkpoint in ``folder`` and
    loaded by an Inferencer with ``score_thr=0.5``."""
    import cv2
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    from convzoo.apis import Inferencer
    from convzoo.core.config import load_config
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(load_config(config).model).eval()  # PyTorch default init: features do not vanish
    if prepare is not None:
        prepare(model)
    pixels = torch.from_numpy(cv2.imread(str(image))).permute(2, 0, 1)
    with torch.no_grad():
        inputs = model.data_preprocessor(dict(inputs=[pixels]), False)['inputs']
        logits = torch.cat([c.flatten() for c in model(inputs, mode='tensor')[0]])
    model.bbox_head.retina_cls.bias.data -= torch.quantile(logits, 0.998)
    path = folder / 'model.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': {'classes': ('a', 'b', 'c')}}}, path)
    return Inferencer(config, str(path), score_thr=0.5, **infer_kwargs)


@pytest.fixture(scope='session')
def detector_inferencer():
    """``detector_inferencer(config, folder, image, prepare=None, **kwargs)``: see calibrated_detector_inferencer."""
    return calibrated_detector_inferencer


def load_tool_script(name: str):
    """``tools/<name>.py`` imported as a module (the tools folder is not a package), registered in sys.modules
    because dataclasses look their module up."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f'convzoo_tool_{name}', ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def tool_script():
    """``tool_script('gpu_check')``: a tools/ script as a module, see load_tool_script."""
    return load_tool_script


@pytest.fixture(autouse=True)
def _default_scope_restored():
    """Each test leaves mmengine's default registry scope as it found it: building an Inferencer or a runner sets
    the process-wide scope (as mmdet's own APIs do), and a later test in the same worker would build from the wrong
    registry."""
    from mmengine.registry import DefaultScope
    before = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)


def pytest_collection_modifyitems(items):
    """Tests that run the tools in subprocesses are end-to-end runs (``-m 'not e2e'`` leaves them out)."""
    for item in items:
        if 'run_tool' in getattr(item, 'fixturenames', ()):
            item.add_marker(pytest.mark.e2e)
