"""Crash-safe checkpoint files: written under a temporary name and renamed, ``last_checkpoint`` updated only after
its checkpoint is complete, old checkpoints deleted only after the new one is in place, and, on resume, the newest
checkpoint that can actually be read.

``ConvzooCheckpointHook`` replaces mmengine's ``CheckpointHook`` (``ConvzooRunner`` swaps it in, so configs keep
``CheckpointHook``). mmengine's hook deletes the oldest kept checkpoint *before* writing the new one and writes both
the file and ``last_checkpoint`` in place, so a kill during a save could leave no valid checkpoint, a truncated file
under its final name, or ``last_checkpoint`` naming a deleted file.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
import tempfile

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

LAST_CHECKPOINT = 'last_checkpoint'


def replace_atomically(write, path: str) -> None:
    """``write(tmp_path)``, flush it to disk, then rename onto ``path``: readers see the old or the new file."""
    folder = osp.dirname(osp.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.part', dir=folder)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_text_atomically(path: str, text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, 'w') as f:
            f.write(text)
    replace_atomically(write, path)


def readable_checkpoint(path: str) -> str | None:
    """None when ``path`` loads (weights-only), else why not."""
    from convzoo.core.errors import CheckpointError
    from convzoo.core.safe_load import load_checkpoint_file
    try:
        load_checkpoint_file(path, 'cpu')
    except (CheckpointError, OSError) as err:
        return str(err)
    return None


def newest_readable_checkpoint(work_dir: str, log=print) -> str | None:
    """The checkpoint to resume from: ``last_checkpoint``'s target, then every ``*.pth`` of ``work_dir`` newest
    first, skipping (and saying so) files that are missing, truncated or unsafe."""
    candidates = []
    pointer = osp.join(work_dir, LAST_CHECKPOINT)
    if osp.isfile(pointer):
        with open(pointer) as f:
            candidates.append(f.read().strip())
    candidates += sorted(glob.glob(osp.join(work_dir, '*.pth')), key=osp.getmtime, reverse=True)
    seen = set()
    for path in candidates:
        if not path or path in seen:
            continue
        seen.add(path)
        problem = 'missing' if not osp.isfile(path) else readable_checkpoint(path)
        if problem is None:
            return path
        log(f'resume: skipping {path}: {problem}')
    return None


@HOOKS.register_module()
class ConvzooCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same options) whose saves survive a kill at any point."""

    def _save_checkpoint_with_step(self, runner, step, meta):
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        expired = self._expire(runner, step)
        runner.save_checkpoint(self.out_dir, filename, self.file_client_args, save_optimizer=self.save_optimizer,
                               save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
                               backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        write_text_atomically(osp.join(runner.work_dir, LAST_CHECKPOINT), self.last_ckpt)
        for path in expired:  # only now that the new checkpoint and the pointer to it are complete
            if path != self.last_ckpt and osp.isfile(path):
                os.remove(path)

    def _expire(self, runner, step) -> list[str]:
        """Update the kept-checkpoint list for ``step``; the paths that fall out of it (deleted after the save)."""
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            return []
        expired = []
        while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
            old = self.keep_ckpt_ids.popleft()
            expired.append(self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old)))
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        return expired
