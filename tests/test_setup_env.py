"""tools/setup_cuda.py, the decisions of ``make setup`` about mmcv's ops, without a GPU and without building mmcv:
CPU or CUDA kernels, the arch list, the wheel-cache key, one error line for a machine that cannot build, the
migration of the wheel cached before keys existed, and the patched source of a CUDA build.

Torch's facts come from a JSON report (``CONVZOO_TORCH_REPORT``), nvcc is a fake script on PATH or in CUDA_HOME.
"""
import json
import os
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CPU_TORCH = dict(version='2.13.0+cpu', cuda=None, devices=[])
H200 = dict(name='NVIDIA H200', capability=[9, 0])
A100 = dict(name='NVIDIA A100-SXM4-80GB', capability=[8, 0])
CUDA_TORCH = dict(version='2.13.0+cu130', cuda='13.0', devices=[H200, A100, H200])


@pytest.fixture
def setup_cuda(tool_script):
    return tool_script('setup_cuda')


def fake_cuda(root: Path, release: str) -> Path:
    """A CUDA_HOME whose bin/nvcc prints nvcc's version banner for ``release``."""
    (root / 'bin').mkdir(parents=True)
    nvcc = root / 'bin/nvcc'
    nvcc.write_text('#!/bin/sh\necho "nvcc: NVIDIA (R) Cuda compiler driver"\n'
                    f'echo "Cuda compilation tools, release {release}, V{release}.48"\n')
    nvcc.chmod(0o755)
    return root


def plan(tmp_path, report: dict, path_cuda: Path | None = None, **env):
    """``setup_cuda.py plan`` with ``report`` as torch's facts, ``path_cuda``'s nvcc on PATH and ``env`` set (the
    CUDA variables of this machine's environment left out); (exit status, assignments, stderr)."""
    (tmp_path / 'report.json').write_text(json.dumps(report))
    base = {k: v for k, v in os.environ.items()
            if k not in ('CUDA_HOME', 'CUDA_PATH', 'TORCH_CUDA_ARCH_LIST', 'MAX_JOBS')}
    path = f'{path_cuda / "bin"}{os.pathsep}{base["PATH"]}' if path_cuda else base['PATH']
    proc = subprocess.run([sys.executable, 'tools/setup_cuda.py', 'plan'], cwd=ROOT, capture_output=True, text=True,
                          env={**base, 'PATH': path, 'CONVZOO_TORCH_REPORT': str(tmp_path / 'report.json'), **env},
                          timeout=60)
    values = dict(token.split('=', 1) for token in shlex.split(proc.stdout))
    return proc.returncode, values, proc.stderr


def test_cpu_machine_builds_cpu_ops_under_the_cpu_key(tmp_path):
    rc, values, _ = plan(tmp_path, CPU_TORCH, path_cuda=fake_cuda(tmp_path / 'cuda', '13.0'))  # nvcc is irrelevant
    assert rc == 0
    assert values['FORCE_CUDA'] == '0' and values['MMCV_CUDA'] == 'cpu'
    assert values['CACHE_KEY'] == 'torch2.13.0+cpu-cpu'
    assert 'TORCH_CUDA_ARCH_LIST' not in values and 'CUDA_HOME' not in values
    assert int(values['MAX_JOBS']) == len(os.sched_getaffinity(0))  # all the cores this process may use


def test_cuda_torch_without_a_visible_gpu_builds_cpu_ops_under_its_own_key(tmp_path):
    rc, values, _ = plan(tmp_path, dict(CUDA_TORCH, devices=[]))
    assert rc == 0 and values['FORCE_CUDA'] == '0'
    assert values['CACHE_KEY'] == 'torch2.13.0+cu130-cpu'  # never shared with the CPU torch's wheels


def test_gpu_with_matching_nvcc_builds_cuda_ops_for_the_local_gpus(tmp_path):
    cuda = fake_cuda(tmp_path / 'cuda', '13.0')
    rc, values, _ = plan(tmp_path, CUDA_TORCH, path_cuda=cuda)
    assert rc == 0
    assert values['FORCE_CUDA'] == '1' and values['MMCV_CUDA'] == '13.0'
    assert values['TORCH_CUDA_ARCH_LIST'] == '8.0;9.0'  # each capability once, sorted
    assert values['CACHE_KEY'] == 'torch2.13.0+cu130-cuda13.0-arch8.0_9.0'
    assert values['CUDA_HOME'] == str(cuda)  # the build uses the nvcc that was checked
    assert 'NVIDIA A100-SXM4-80GB' in values['PLAN_SUMMARY'] and '8.0;9.0' in values['PLAN_SUMMARY']


def test_nvcc_of_another_minor_version_is_fine(tmp_path):
    rc, values, _ = plan(tmp_path, CUDA_TORCH, path_cuda=fake_cuda(tmp_path / 'cuda', '13.1'))
    assert rc == 0 and values['CACHE_KEY'] == 'torch2.13.0+cu130-cuda13.1-arch8.0_9.0'


def test_arch_list_and_jobs_can_be_overridden(tmp_path):
    rc, values, _ = plan(tmp_path, CUDA_TORCH, path_cuda=fake_cuda(tmp_path / 'cuda', '13.0'),
                         TORCH_CUDA_ARCH_LIST='8.6 9.0+PTX', MAX_JOBS='5')
    assert rc == 0
    assert values['TORCH_CUDA_ARCH_LIST'] == '8.6 9.0+PTX' and values['MAX_JOBS'] == '5'
    assert values['CACHE_KEY'] == 'torch2.13.0+cu130-cuda13.0-arch8.6_9.0+PTX'


def test_cuda_home_is_the_nvcc_used(tmp_path):
    home = fake_cuda(tmp_path / 'home', '13.0')
    rc, values, _ = plan(tmp_path, CUDA_TORCH, path_cuda=fake_cuda(tmp_path / 'other', '12.8'), CUDA_HOME=str(home))
    assert rc == 0 and values['CUDA_HOME'] == str(home)


def _one_error_line(rc, values, err) -> str:
    assert rc == 2 and values == {}
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_gpu_without_nvcc_stops_with_one_line_naming_the_toolkit(tmp_path):
    (tmp_path / 'empty').mkdir()
    line = _one_error_line(*plan(tmp_path, CUDA_TORCH, CUDA_HOME=str(tmp_path / 'empty')))
    assert 'no nvcc' in line and 'NVIDIA H200' in line
    assert 'install the CUDA 13.x toolkit' in line and 'cuda-toolkit-13-0' in line and 'CUDA_HOME' in line


def test_nvcc_of_another_major_stops_with_one_line(tmp_path):
    line = _one_error_line(*plan(tmp_path, CUDA_TORCH, path_cuda=fake_cuda(tmp_path / 'cuda', '12.8')))
    assert 'CUDA 12.8' in line and 'built with CUDA 13.0' in line and 'install the CUDA 13.x toolkit' in line


def test_gpu_seen_by_a_torch_that_is_no_cuda_build_stops(tmp_path):
    line = _one_error_line(*plan(tmp_path, dict(version='2.13.0+rocm7.0', cuda=None, devices=[H200])))
    assert 'not a CUDA build' in line


# --- the wheel cache -------------------------------------------------------------------------------------------------


def _wheel(path: Path, library: bytes) -> Path:
    """A stand-in mmcv wheel whose compiled extension names ``library`` among its dependencies."""
    with zipfile.ZipFile(path, 'w') as whl:
        whl.writestr('mmcv/_ext.cpython-311-x86_64-linux-gnu.so', b'\x7fELF...' + library + b'\0...')
        whl.writestr('mmcv-2.1.0.dist-info/METADATA', 'Name: mmcv\nVersion: 2.1.0\n')
    return path


LEGACY = 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl'


def test_the_untagged_cpu_wheel_moves_under_the_cpu_key(tmp_path, setup_cuda):
    _wheel(tmp_path / LEGACY, b'libc10.so')
    moved = setup_cuda.migrate(str(tmp_path), 'torch2.13.0+cpu-cpu')
    assert moved == str(tmp_path / 'torch2.13.0+cpu-cpu' / LEGACY)
    assert Path(moved).is_file() and not (tmp_path / LEGACY).exists()
    assert setup_cuda.migrate(str(tmp_path), 'torch2.13.0+cpu-cpu') is None  # done once


@pytest.mark.parametrize('key', ['torch2.13.0+cu130-cuda13.0-arch9.0', 'torch2.14.0+cpu-cpu'])
def test_the_untagged_wheel_is_never_taken_for_a_gpu_or_another_torch(tmp_path, key, setup_cuda):
    _wheel(tmp_path / LEGACY, b'libc10.so')
    assert setup_cuda.migrate(str(tmp_path), key) is None
    assert (tmp_path / LEGACY).exists()


def test_an_untagged_wheel_with_cuda_kernels_is_not_taken_for_the_cpu(tmp_path, setup_cuda):
    _wheel(tmp_path / LEGACY, b'libc10_cuda.so')
    assert setup_cuda.migrate(str(tmp_path), 'torch2.13.0+cpu-cpu') is None


def test_the_installed_mmcv_fits_a_cpu_plan_and_not_a_cuda_one():
    def installed(mmcv_cuda):
        return subprocess.run([sys.executable, 'tools/setup_cuda.py', 'installed', mmcv_cuda], cwd=ROOT,
                              timeout=120).returncode
    assert installed('cpu') == 0
    assert installed('13.0') == 1  # this machine's mmcv has CPU kernels only: a CUDA plan reinstalls


@pytest.mark.e2e
def test_cuda_build_source_is_the_sdist_with_the_patches_applied(tmp_path):
    """Downloads mmcv's sdist (0.5 MB) from the package index; nothing is compiled."""
    tree = subprocess.run([sys.executable, 'tools/setup_cuda.py', 'source', str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, check=True, timeout=300).stdout.strip()
    helper = Path(tree, 'mmcv/ops/csrc/common/pytorch_cuda_helper.hpp').read_text()
    assert '#include <ATen/cuda/Atomic.cuh>' in helper
    csrc = Path(tree, 'mmcv/ops/csrc')
    assert not [p for p in csrc.rglob('*') if p.is_file() and '#include <THC/' in p.read_text(errors='ignore')]


# --- tools/check_env.py's GPU lines ---------------------------------------------------------------------------------


def check_env(prelude: str = ''):
    code = (f"{prelude}\nimport runpy, sys\nsys.argv = ['check_env.py']\n"
            "runpy.run_path('tools/check_env.py', run_name='__main__')")
    return subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'CUDA_VISIBLE_DEVICES': ''})


def test_check_env_says_no_gpu_and_passes_without_one():
    proc = check_env()
    assert proc.returncode == 0, proc.stderr
    lines = {k.strip(): v.strip() for k, v in (line.split(':', 1) for line in proc.stdout.splitlines() if ':' in line)}
    assert lines['GPU'] == 'no GPU' and lines['mmcv CUDA ops'] == 'no GPU'
    assert lines['torch CUDA'].startswith('no GPU (torch ')


A_GPU_WITHOUT_MMCV_CUDA = """
import torch
torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 1
torch.cuda.get_device_name = lambda i=0: 'NVIDIA H200'
torch.cuda.get_device_capability = lambda i=0: (9, 0)
torch.version.cuda = '13.0'
"""


def test_check_env_on_a_gpu_refuses_mmcv_without_cuda_kernels_and_names_the_fix():
    proc = check_env(A_GPU_WITHOUT_MMCV_CUDA)  # this machine's mmcv has CPU kernels only
    assert proc.returncode == 1
    assert 'GPU: 1 x NVIDIA H200 (compute capability 9.0)' in proc.stdout and 'torch CUDA: 13.0' in proc.stdout
    assert 'mmcv CUDA ops: RuntimeError: mmcv._ext was compiled without CUDA kernels' in proc.stderr
    assert 'pip uninstall -y mmcv && make setup' in proc.stderr and 'FORCE_CUDA=1' in proc.stderr
