"""What tools/setup_env.sh decides about mmcv's compiled ops: CPU or CUDA kernels, for which GPU architectures,
under which wheel-cache key, and whether the mmcv already installed fits.

Python rather than bash because the facts come from torch and nvcc and the decisions need tests
(tests/test_setup_env.py). Torch's facts come from one probe, :func:`torch_report`, whose output a test replaces
with a JSON file named by ``CONVZOO_TORCH_REPORT``.

    plan                 shell assignments for setup_env.sh to eval: FORCE_CUDA, MAX_JOBS, CACHE_KEY, MMCV_CUDA,
                         PLAN_SUMMARY, and for CUDA builds TORCH_CUDA_ARCH_LIST and CUDA_HOME
    migrate CACHE KEY    move the untagged wheel cached before keys existed into CACHE/KEY (CPU wheels only)
    installed MMCV_CUDA  exit 0 when the installed mmcv's ops fit: 'cpu', or compiled for this CUDA major
    source DEST          download mmcv's sdist into DEST, unpack it, apply patches/mmcv-2.1.0/*.patch, print the tree

A machine that cannot build what it needs (a GPU without nvcc, nvcc of another CUDA major than torch's) stops
with one line that names what to install, and exit status 2.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MMCV = '2.1.0'
TORCH_PIN = '2.13.0'  # the torch every wheel cached before keys existed was built against (CPU build)
PATCHES = osp.join(ROOT, 'patches', f'mmcv-{MMCV}')


class SetupError(Exception):
    """A machine that cannot build mmcv as it needs to; the message names what to install."""


@dataclass
class Plan:
    force_cuda: bool
    cache_key: str
    max_jobs: int
    summary: str
    mmcv_cuda: str = 'cpu'  # what the installed mmcv's ops must be compiled for
    arch_list: str = ''
    cuda_home: str = ''

    def shell(self) -> str:
        """``NAME=value`` lines, quoted for bash's eval."""
        values = dict(FORCE_CUDA=int(self.force_cuda), MAX_JOBS=self.max_jobs, CACHE_KEY=self.cache_key,
                      MMCV_CUDA=self.mmcv_cuda, PLAN_SUMMARY=self.summary)
        if self.force_cuda:
            values.update(TORCH_CUDA_ARCH_LIST=self.arch_list, CUDA_HOME=self.cuda_home)
        return ''.join(f'{name}={shlex.quote(str(value))}\n' for name, value in values.items())


# ------------------------------------------------------------------------------------------------ facts


def torch_report() -> dict:
    """The torch facts the plan needs: ``version``, ``cuda`` (None for a CPU build) and the visible ``devices``
    (``name``, ``capability`` [major, minor]). ``CONVZOO_TORCH_REPORT`` names a JSON file to use instead."""
    path = os.environ.get('CONVZOO_TORCH_REPORT')
    if path:
        with open(path) as f:
            return json.load(f)
    import torch
    devices = [dict(name=torch.cuda.get_device_name(i), capability=list(torch.cuda.get_device_capability(i)))
               for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return dict(version=torch.__version__, cuda=torch.version.cuda, devices=devices)


def find_nvcc(env: dict) -> tuple[str | None, str]:
    """The nvcc torch's extension builder would use (``CUDA_HOME``/``CUDA_PATH``, else PATH, else
    /usr/local/cuda) and where it was looked for."""
    home = env.get('CUDA_HOME') or env.get('CUDA_PATH')
    if home:
        nvcc = osp.join(home, 'bin', 'nvcc')
        return (nvcc if os.access(nvcc, os.X_OK) else None), f'CUDA_HOME={home}'
    nvcc = shutil.which('nvcc', path=env.get('PATH', '')) or '/usr/local/cuda/bin/nvcc'
    return (nvcc if os.access(nvcc, os.X_OK) else None), 'PATH and /usr/local/cuda'


def nvcc_release(nvcc: str) -> str:
    """'13.0' from ``nvcc --version`` ("Cuda compilation tools, release 13.0, V13.0.48")."""
    out = subprocess.run([nvcc, '--version'], capture_output=True, text=True, timeout=60).stdout
    found = re.search(r'release (\d+\.\d+)', out)
    if not found:
        raise SetupError(f'{nvcc} --version names no CUDA release; reinstall the CUDA toolkit')
    return found.group(1)


def cpu_count() -> int:
    """The cores this process may use (a container's CPU set, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ------------------------------------------------------------------------------------------------ decisions


def make_plan(report: dict, env: dict) -> Plan:
    """CPU ops unless torch is a CUDA build that sees a GPU; then CUDA ops for the local GPUs, built by an nvcc
    of torch's CUDA major (kernels of another major fail to load or to run)."""
    jobs = int(env.get('MAX_JOBS') or cpu_count())
    version, cuda, devices = report['version'], report.get('cuda'), report.get('devices') or []
    if not devices:
        why = f'torch {version} sees no GPU' if cuda else f'torch {version} is a CPU build'
        return Plan(False, f'torch{version}-cpu', jobs, f'CPU ops ({why})')
    if not cuda:
        raise SetupError(f'torch {version} sees a GPU but is not a CUDA build (ROCm?); convzoo builds mmcv for '
                         'CUDA only: install a CUDA build of torch')
    nvcc, looked = find_nvcc(env)
    toolkit = (f'the CUDA {cuda.split(".")[0]}.x toolkit '
               f'(nvcc; e.g. apt-get install cuda-toolkit-{cuda.replace(".", "-")})')
    if nvcc is None:
        raise SetupError(f'torch {version} (CUDA {cuda}) sees {devices[0]["name"]} but no nvcc was found '
                         f'({looked}): install {toolkit} and set CUDA_HOME to it')
    release = nvcc_release(nvcc)
    if release.split('.')[0] != cuda.split('.')[0]:
        raise SetupError(f'{nvcc} is CUDA {release} but torch {version} was built with CUDA {cuda}: install '
                         f'{toolkit} and set CUDA_HOME to it')
    arch = env.get('TORCH_CUDA_ARCH_LIST') or arch_list(devices)
    names = ', '.join(sorted({d['name'] for d in devices}))
    return Plan(True, f'torch{version}-cuda{release}-arch{arch_tag(arch)}', jobs,
                f'CUDA {release} ops for compute capability {arch} ({names})', release, arch,
                osp.dirname(osp.dirname(nvcc)))


def arch_list(devices: list[dict]) -> str:
    """TORCH_CUDA_ARCH_LIST for the local GPUs: their compute capabilities, once each ("8.6;9.0")."""
    return ';'.join(f'{major}.{minor}' for major, minor in sorted({tuple(d['capability']) for d in devices}))


def arch_tag(arch: str) -> str:
    """An arch list as a file-name part: '8.6;9.0+PTX' and '8.6 9.0+PTX' -> '8.6_9.0+PTX'."""
    return '_'.join(arch.replace(';', ' ').split())


# ------------------------------------------------------------------------------------------------ the cache


def is_cuda_wheel(path: str) -> bool:
    """Whether an mmcv wheel's ops were compiled with CUDA: a CUDAExtension links torch's CUDA libraries."""
    with zipfile.ZipFile(path) as whl:
        ext = [whl.read(n) for n in whl.namelist() if re.fullmatch(r'mmcv/_ext[^/]*\.so', n)]
    return any(b'libc10_cuda' in lib or b'libcudart' in lib for lib in ext)


def migrate(cache: str, key: str) -> str | None:
    """Move the wheel cached before keys existed (``CACHE/mmcv-2.1.0-*.whl``) into ``CACHE/KEY`` when KEY is the
    CPU key of the pinned torch and the wheel has no CUDA kernels (the old set-up always built with
    ``FORCE_CUDA=0``, but mmcv builds CUDA kernels anyway when torch sees a GPU). Saves a 14-minute rebuild."""
    if not re.fullmatch(rf'torch{re.escape(TORCH_PIN)}(\+[\w.]+)?-cpu', key):
        return None
    for old in glob.glob(osp.join(cache, f'mmcv-{MMCV}-*.whl')):
        if not is_cuda_wheel(old):
            os.makedirs(osp.join(cache, key), exist_ok=True)
            new = osp.join(cache, key, osp.basename(old))
            os.replace(old, new)  # same folder tree: a rename, never a half-copied wheel
            return new
    return None


def installed_fits(mmcv_cuda: str) -> bool:
    """The installed mmcv has its ops, compiled for ``mmcv_cuda``'s major ('cpu': any ops that load)."""
    try:
        import torch  # noqa: F401  (mmcv._ext links torch's libraries)
        from mmcv.utils import ext_loader
        compiled = ext_loader.load_ext('_ext', ['get_compiling_cuda_version']).get_compiling_cuda_version()
    except Exception:  # noqa: BLE001  (absent, op-less or broken: reinstall)
        return False
    return mmcv_cuda == 'cpu' or compiled.split('.')[0] == mmcv_cuda.split('.')[0]


# ------------------------------------------------------------------------------------------------ the source


def source(dest: str) -> str:
    """mmcv's sdist unpacked into ``dest`` with patches/mmcv-2.1.0/*.patch applied: the tree to build."""
    os.makedirs(dest, exist_ok=True)
    subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '--disable-pip-version-check', '--no-deps',
                    '--no-build-isolation', '--no-binary', 'mmcv', f'mmcv=={MMCV}', '-d', dest], check=True)
    with tarfile.open(osp.join(dest, f'mmcv-{MMCV}.tar.gz')) as tar:
        tar.extractall(dest, **({'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}))
    tree = osp.join(dest, f'mmcv-{MMCV}')
    for patch in sorted(glob.glob(osp.join(PATCHES, '*.patch'))):
        apply_patch(patch, tree)
    return tree


def apply_patch(patch: str, tree: str) -> None:
    """``patch -p1``, else ``git apply`` (which works outside a repository too)."""
    if shutil.which('patch'):
        command = ['patch', '-p1', '--forward', '--quiet', '-i', patch]
    elif shutil.which('git'):
        command = ['git', 'apply', '-p1', patch]
    else:
        raise SetupError('neither patch nor git is installed, and mmcv needs patches/ applied: apt-get install patch')
    if subprocess.run(command, cwd=tree).returncode != 0:
        raise SetupError(f'{patch} does not apply to mmcv {MMCV}\'s sdist')


# ------------------------------------------------------------------------------------------------ CLI


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('plan')
    migrate_p = sub.add_parser('migrate')
    migrate_p.add_argument('cache')
    migrate_p.add_argument('key')
    sub.add_parser('installed').add_argument('mmcv_cuda')
    sub.add_parser('source').add_argument('dest')
    args = parser.parse_args(argv)
    try:
        if args.command == 'plan':
            print(make_plan(torch_report(), dict(os.environ)).shell(), end='')
        elif args.command == 'migrate':
            moved = migrate(args.cache, args.key)
            if moved:
                print(f'moved the cached wheel of the earlier set-up to {moved}')
        elif args.command == 'installed':
            return 0 if installed_fits(args.mmcv_cuda) else 1
        else:
            print(source(args.dest))
    except SetupError as err:
        print(f'\033[31m[setup] {err}\033[0m', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
