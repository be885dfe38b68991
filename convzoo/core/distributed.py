"""Distributed runs through mmengine's ``pytorch`` launcher (torchrun, ``tools/dist_train.sh``) on any machine.

mmengine 0.10.7 assumes one GPU per process: ``_init_dist_pytorch`` calls ``torch.cuda.set_device(local_rank)``
(on the CPU torch build: ``AttributeError: module 'torch._C' has no attribute '_cuda_setDevice'``), the default
backend is NCCL (GPU only), and ``Runner.wrap_model`` gives DistributedDataParallel ``device_ids=[local_rank]``,
which DDP refuses for a module on the CPU. :func:`configure_launcher` fixes the three at run time, from convzoo
(site-packages are never edited), when no GPU is usable: gloo backend, no device selection, ``device_ids=None``.

On a GPU machine it only checks that each process gets a GPU of its own: a second process on one GPU would fail
later inside NCCL with a far less readable message.
"""
from __future__ import annotations

import os

import torch

from convzoo.core.errors import ConvzooError

_PATCHED = '_convzoo_cpu_init'


def configure_launcher(cfg, launcher: str) -> None:
    """Make ``cfg`` run under ``launcher`` on this machine (only ``pytorch`` needs anything)."""
    if launcher != 'pytorch':
        return
    if torch.cuda.is_available():
        check_processes_fit(local_world_size(), torch.cuda.device_count())
        return
    use_gloo(cfg)
    skip_cuda_device_selection()


def local_world_size() -> int:
    """Processes torchrun started on this machine (1 when started another way)."""
    return int(os.environ.get('LOCAL_WORLD_SIZE', 1))


def check_processes_fit(processes: int, gpus: int) -> None:
    """One process per GPU: more processes than GPUs is refused before anything is built."""
    if processes > gpus:
        raise ConvzooError(f'{processes} processes on this machine but {gpus} GPU(s) visible: start at most {gpus} '
                           f'(tools/dist_train.sh CONFIG {gpus}), one process per GPU')


def use_gloo(cfg) -> None:
    """gloo is torch's CPU backend (NCCL needs GPUs); DDP wants ``device_ids=None`` for a module on the CPU."""
    env_cfg = dict(cfg.get('env_cfg') or {})
    env_cfg['dist_cfg'] = dict(env_cfg.get('dist_cfg') or {}, backend='gloo')
    cfg.env_cfg = env_cfg
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:  # what mmengine builds when there is none, minus the GPU id
        wrapper = dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                       find_unused_parameters=cfg.get('find_unused_parameters', False))
    if _is_ddp(wrapper.get('type', 'MMDistributedDataParallel')):
        cfg.model_wrapper_cfg = dict(wrapper, device_ids=None)


def _is_ddp(wrapper_type) -> bool:
    from mmengine.registry import MODEL_WRAPPERS
    from torch.nn.parallel import DistributedDataParallel
    cls = MODEL_WRAPPERS.get(wrapper_type) if isinstance(wrapper_type, str) else wrapper_type
    return isinstance(cls, type) and issubclass(cls, DistributedDataParallel)


def skip_cuda_device_selection() -> None:
    """Replace mmengine's ``_init_dist_pytorch`` (looked up by ``init_dist`` at call time) with one that leaves out
    ``torch.cuda.set_device`` while no GPU is usable; with a GPU it is mmengine's own. Idempotent."""
    import mmengine.dist.utils as dist_utils
    original = dist_utils._init_dist_pytorch
    if getattr(original, _PATCHED, False):
        return

    def init_dist_pytorch(backend, init_backend='torch', **kwargs) -> None:
        if torch.cuda.is_available() or init_backend != 'torch':
            return original(backend, init_backend=init_backend, **kwargs)
        torch.distributed.init_process_group(backend=backend, **kwargs)  # env://: RANK, WORLD_SIZE from torchrun

    setattr(init_dist_pytorch, _PATCHED, True)
    dist_utils._init_dist_pytorch = init_dist_pytorch
