"""One run per work dir: a lock file holding the owner's process id, created atomically (``O_EXCL``).

Two trainings on one work dir would overwrite each other's checkpoints and interleave their logs. A second run stops
at once naming the first one's process id; a lock left by a process that no longer exists (killed, crashed) is
taken over with a note.
"""
from __future__ import annotations

import os
import os.path as osp

from convzoo.core.errors import ConfigError

LOCK_NAME = '.convzoo.lock'


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _owner(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class WorkDirLock:
    """``with WorkDirLock(work_dir, log):`` holds the work dir for this process."""

    def __init__(self, work_dir: str, log=print):
        self.path, self.log, self.held = osp.join(work_dir, LOCK_NAME), log, False

    def acquire(self) -> None:
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        for _ in range(2):  # second try after removing a stale lock
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = _owner(self.path)
                if owner is not None and owner != os.getpid() and _alive(owner):
                    raise ConfigError(f'{osp.dirname(self.path)}: work dir in use by another run (process {owner}); '
                                      'wait for it, stop it, or use another --work-dir') from None
                self.log(f'work dir lock {self.path} of process {owner} (no longer running) taken over')
                os.remove(self.path)
                continue
            with os.fdopen(fd, 'w') as f:
                f.write(f'{os.getpid()}\n')
            self.held = True
            return
        raise ConfigError(f'{self.path}: cannot take the work dir lock')

    def release(self) -> None:
        if self.held and _owner(self.path) == os.getpid():
            os.remove(self.path)
        self.held = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
