"""The house: imports run one way (import-linter's contract in pyproject.toml), every registered model lives in
the room of its role, layers register nothing, tasks hold no models, and a new file in a room registers itself."""
import ast
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
MODEL_ROOMS = ('backbones', 'necks', 'heads', 'detectors', 'segmentors', 'restorers')


def test_import_contract_holds():
    lint = shutil.which('lint-imports', path=str(Path(sys.executable).parent))
    assert lint, 'import-linter is not installed (requirements/runtime.txt)'
    proc = subprocess.run([lint, '--no-cache'], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'Contracts: 1 kept, 0 broken' in proc.stdout


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_layers_know_no_registry():
    for path in (ROOT / 'convzoo' / 'layers').glob('*.py'):
        registries = {m for m in _imports(path) if m.endswith('registry') or m.endswith('.registry')}
        assert not registries, f'{path.name} imports {registries}: layers are plain building blocks'


def test_every_registered_model_lives_in_its_room():
    from mmdet.registry import MODELS as MMDET
    from mmseg.registry import MODELS as MMSEG

    from convzoo.core.registry import MODELS as CONVZOO
    homes = {}
    for registry in (MMDET, MMSEG, CONVZOO):
        for name, cls in registry.module_dict.items():
            if inspect.isclass(cls) and cls.__module__.startswith('convzoo.') and issubclass(cls, torch.nn.Module):
                homes[name] = cls.__module__.split('.')[1]
    assert homes and set(homes.values()) <= set(MODEL_ROOMS) | {'layers'}, homes
    # building blocks are registered by the model that uses them, never from layers/ itself
    assert {name for name, room in homes.items() if room == 'layers'} == {'DEConv', 'AdaptiveRotatedConv2d'}


def test_nothing_finds_the_checkout_by_walking_up_from_a_file():
    for path in (ROOT / 'convzoo').rglob('*.py'):
        assert 'dirname(osp.dirname(' not in path.read_text(), f'{path}: works only inside a checkout'


def test_a_new_file_in_a_room_registers_itself(tmp_path, monkeypatch):
    room = tmp_path / 'probe_room'
    room.mkdir()
    (room / '__init__.py').write_text('from convzoo.core.registry import import_room\n'
                                      'import_room(__name__, __path__)\n')
    (room / 'my_neck.py').write_text('from mmdet.registry import MODELS\nfrom torch import nn\n\n'
                                     '@MODELS.register_module()\nclass ProbeNeckForTheTest(nn.Identity):\n'
                                     '    pass\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    from mmdet.registry import MODELS
    try:
        __import__('probe_room')
        assert MODELS.get('ProbeNeckForTheTest').__module__ == 'probe_room.my_neck'
    finally:
        MODELS.module_dict.pop('ProbeNeckForTheTest', None)
        for name in ('probe_room', 'probe_room.my_neck'):
            sys.modules.pop(name, None)
