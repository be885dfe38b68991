"""tools/check_env.py passes here and diagnoses each known breakage with its fix; the pkg_resources fallback."""
import subprocess
import sys

import pytest
from mmengine.config import Config


def _check_env(prelude: str = '', extra_path: str | None = None):
    code = f"{prelude}\nimport runpy, sys\nsys.argv = ['check_env.py']\nrunpy.run_path('tools/check_env.py', run_name='__main__')"
    env = None
    if extra_path:
        import os
        env = {**os.environ, 'PYTHONPATH': extra_path}
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=300)


def test_check_env_passes_on_this_machine():
    proc = _check_env()
    assert proc.returncode == 0, proc.stderr
    import importlib.metadata
    assert f"mmcv: {importlib.metadata.version('mmcv')}" in proc.stdout  # reports what is installed
    assert 'OK: mmcv ops' in proc.stdout and 'torch' in proc.stdout


def test_missing_mmcv_ext_and_pkg_resources_are_diagnosed_with_fixes():
    proc = _check_env("import sys; sys.modules['mmcv._ext'] = None; sys.modules['pkg_resources'] = None")
    assert proc.returncode == 1
    assert 'mmcv ops' in proc.stderr and '--no-build-isolation mmcv==2.1.0' in proc.stderr
    assert 'pkg_resources missing' in proc.stderr and 'setuptools>=77.0.3,<82' in proc.stderr


def test_broken_torchvision_is_diagnosed(tmp_path):
    (tmp_path / 'torchvision').mkdir()
    (tmp_path / 'torchvision/__init__.py').write_text(
        "raise RuntimeError('operator torchvision::nms does not exist')\n")
    dist = tmp_path / 'torchvision-0.28.0.dist-info'
    dist.mkdir()
    (dist / 'METADATA').write_text('Metadata-Version: 2.1\nName: torchvision\nVersion: 0.28.0\n')
    proc = _check_env(extra_path=str(tmp_path))
    assert proc.returncode == 1
    assert 'torchvision broken' in proc.stderr and 'pip uninstall -y torchvision' in proc.stderr


def test_mmdet_bases_resolve_without_pkg_resources(monkeypatch):
    import mmengine.config.config as config_module
    import mmengine.utils.package_utils as package_utils

    from convzoo.core import compat
    for module in (package_utils, config_module):
        monkeypatch.setattr(module, 'is_installed', module.is_installed)
        monkeypatch.setattr(module, 'get_installed_path', module.get_installed_path)
    monkeypatch.setitem(sys.modules, 'pkg_resources', None)  # 'import pkg_resources' now fails
    with pytest.raises(ImportError):
        package_utils.get_installed_path('mmdet')  # mmengine's own version needs pkg_resources
    compat._patch_pkg_resources()
    cfg = Config.fromfile('configs/sepc/retinanet_r50_fpn-sepc_1x_coco.py')
    assert cfg.model.type == 'RetinaNet' and cfg.model.neck[1].type == 'SEPC'
